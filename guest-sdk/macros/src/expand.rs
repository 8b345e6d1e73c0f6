//! What `#[handler]` expands to.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Item, ItemFn};

use crate::signature::{self, Handler, RecordParam};

/// Expands `#[handler]` with its arguments `args` on `item`.
///
/// On success: the function unchanged, then, in an anonymous `const` block, a hidden type
/// that implements `Plugin` by calling it, and `export!` of that type. On failure: the
/// errors, then the item unchanged, so that its body is still checked and nothing else
/// fails for want of it.
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: Item = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => return error.to_compile_error(),
    };
    match check(args, &item) {
        Ok((function, handler)) => plugin(function, &handler),
        Err(error) => {
            let errors = error.to_compile_error();
            quote! { #errors #item }
        }
    }
}

/// Checks the arguments and the item, and reports every problem at once.
fn check(args: TokenStream, item: &Item) -> syn::Result<(&ItemFn, Handler<'_>)> {
    let arguments = if args.is_empty() {
        Ok(())
    } else {
        Err(syn::Error::new_spanned(
            args,
            "`#[handler]` takes no arguments: expected `#[handler]`",
        ))
    };
    let function = match item {
        Item::Fn(function) => signature::check(&function.sig).map(|handler| (function, handler)),
        item => Err(syn::Error::new_spanned(
            item,
            format!(
                "`#[handler]` goes on a function: {}",
                signature::expected(&quote!(handle))
            ),
        )),
    };
    match (arguments, function) {
        (Ok(()), function) => function,
        (Err(error), Ok(_)) => Err(error),
        (Err(mut error), Err(more)) => {
            error.combine(more);
            Err(error)
        }
    }
}

/// The function, its plugin type and the export.
fn plugin(function: &ItemFn, handler: &Handler<'_>) -> TokenStream {
    let Handler {
        name,
        record,
        output,
    } = handler;
    // The parameter's and the return type's tokens are the user's, so a type the SDK's
    // traits reject is reported on them, with the traits' messages.
    let argument = match record {
        RecordParam::ByValue(ty) => quote! {
            <#ty as ::s3plug_guest::__private::HandlerRecord>::from_record(record)
        },
        RecordParam::ByRef(ty) => quote! {
            <#ty as ::s3plug_guest::__private::HandlerRecord>::from_ref(&record)
        },
    };
    let mut tokens = function.to_token_stream();
    tokens.extend(quote! {
        const _: () = {
            struct S3plugHandler;

            impl ::s3plug_guest::Plugin for S3plugHandler {
                fn handle(
                    record: ::s3plug_guest::Record,
                ) -> ::core::result::Result<::s3plug_guest::Outcome, ::s3plug_guest::Error> {
                    <#output as ::s3plug_guest::__private::HandlerResult>::into_result(
                        #name(#argument),
                    )
                }
            }

            ::s3plug_guest::export!(S3plugHandler);
        };
    });
    tokens
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::{check, handler};

    /// The messages `#[handler]` with `args` reports on `item`, or none.
    fn messages(args: TokenStream, item: TokenStream) -> Vec<String> {
        let item = syn::parse2(item).expect("the test item parses");
        match check(args, &item) {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
        }
    }

    fn expected(name: &str) -> String {
        format!("expected `fn {name}(record: Record) -> Result<Outcome, Error>`")
    }

    #[test]
    fn accepted_signatures_pass() {
        let items = [
            quote! { fn handle(record: Record) -> Result<Outcome, Error> { todo!() } },
            quote! { pub fn any_name(_: &Record) -> Result<Outcome, Error> { todo!() } },
            quote! { fn h(mut record: sdk::Record) -> Result<sdk::Outcome, ObjectError> { todo!() } },
            quote! { fn h(Record { key, .. }: ::s3plug_guest::Record) -> HandlerResult { todo!() } },
        ];
        for item in items {
            assert_eq!(
                messages(TokenStream::new(), item.clone()),
                Vec::<String>::new(),
                "{item}"
            );
        }
    }

    #[test]
    fn the_expansion_keeps_the_function_and_exports_a_plugin() {
        let item = quote! { fn convert(record: &Record) -> Result<Outcome, Error> { todo!() } };
        let expanded = handler(TokenStream::new(), item).to_string();
        assert!(
            expanded.starts_with("fn convert (record : & Record)"),
            "{expanded}"
        );
        assert!(
            expanded.contains("impl :: s3plug_guest :: Plugin for S3plugHandler"),
            "{expanded}"
        );
        assert!(expanded.contains("from_ref (& record)"), "{expanded}");
        assert!(
            expanded.contains(":: s3plug_guest :: export ! (S3plugHandler)"),
            "{expanded}"
        );
        assert!(!expanded.contains("compile_error"), "{expanded}");
    }

    #[test]
    fn a_wrong_signature_keeps_the_function_and_exports_nothing() {
        let item = quote! { async fn handle(record: Record) -> Result<Outcome, Error> { todo!() } };
        let expanded = handler(TokenStream::new(), item).to_string();
        assert!(expanded.contains("compile_error"), "{expanded}");
        assert!(expanded.contains("async fn handle"), "{expanded}");
        assert!(!expanded.contains("export"), "{expanded}");
    }

    #[test]
    fn arguments_are_rejected() {
        let item = quote! { fn handle(record: Record) -> Result<Outcome, Error> { todo!() } };
        assert_eq!(
            messages(quote! { name = "x" }, item),
            ["`#[handler]` takes no arguments: expected `#[handler]`"]
        );
    }

    #[test]
    fn other_items_are_rejected() {
        assert_eq!(
            messages(TokenStream::new(), quote! { struct Handler; }),
            [format!(
                "`#[handler]` goes on a function: {}",
                expected("handle")
            )]
        );
    }

    #[test]
    fn qualifiers_are_rejected() {
        let cases = [
            (quote! { async }, "async"),
            (quote! { const }, "const"),
            (quote! { unsafe }, "unsafe"),
            (quote! { extern "C" }, "extern \"C\""),
        ];
        for (qualifier, text) in cases {
            let item =
                quote! { #qualifier fn h(record: Record) -> Result<Outcome, Error> { todo!() } };
            assert_eq!(
                messages(TokenStream::new(), item),
                [format!("a handler cannot be `{text}`: {}", expected("h"))]
            );
        }
    }

    #[test]
    fn generics_are_rejected() {
        let message = format!("a handler cannot be generic: {}", expected("h"));
        let items = [
            quote! { fn h<R: Into<Record>>(record: R) -> Result<Outcome, Error> { todo!() } },
            quote! { fn h<'a>(record: &'a Record) -> Result<Outcome, Error> { todo!() } },
            quote! { fn h(record: Record) -> Result<Outcome, Error> where Record: Send { todo!() } },
        ];
        for item in items {
            assert_eq!(
                messages(TokenStream::new(), item.clone()),
                [message.as_str()],
                "{item}"
            );
        }
    }

    #[test]
    fn a_missing_parameter_is_rejected() {
        let item = quote! { fn h() -> Result<Outcome, Error> { todo!() } };
        assert_eq!(
            messages(TokenStream::new(), item),
            [format!(
                "a handler takes one parameter, the record: {}",
                expected("h")
            )]
        );
    }

    #[test]
    fn extra_parameters_are_rejected() {
        let item = quote! { fn h(record: Record, attempt: u32, more: u8) -> Result<Outcome, Error> { todo!() } };
        assert_eq!(
            messages(TokenStream::new(), item),
            [format!(
                "a handler takes one parameter, the record, not 3: {}",
                expected("h")
            )]
        );
    }

    #[test]
    fn a_receiver_is_rejected() {
        let message = format!(
            "a handler is a free function, not a method: {}",
            expected("h")
        );
        let items = [
            quote! { fn h(&self, record: Record) -> Result<Outcome, Error> { todo!() } },
            quote! { fn h(self) -> Result<Outcome, Error> { todo!() } },
        ];
        for item in items {
            assert_eq!(
                messages(TokenStream::new(), item.clone()),
                [message.as_str()],
                "{item}"
            );
        }
    }

    #[test]
    fn a_mutable_or_generic_record_is_rejected() {
        let cases = [
            (quote! { &mut Record }, "a `&mut` reference"),
            (quote! { impl Into<Record> }, "`impl Trait`"),
        ];
        for (ty, text) in cases {
            let item = quote! { fn h(record: #ty) -> Result<Outcome, Error> { todo!() } };
            assert_eq!(
                messages(TokenStream::new(), item),
                [format!(
                    "a handler takes `Record` or `&Record`, not {text}: {}",
                    expected("h")
                )]
            );
        }
    }

    #[test]
    fn a_missing_or_opaque_return_type_is_rejected() {
        let cases = [
            (quote! { fn h(record: Record) {} }, "`()`"),
            (
                quote! { fn h(record: Record) -> impl Into<Outcome> { todo!() } },
                "`impl Trait`",
            ),
        ];
        for (item, text) in cases {
            assert_eq!(
                messages(TokenStream::new(), item),
                [format!(
                    "a handler returns `Result<Outcome, Error>`, not {text}: {}",
                    expected("h")
                )]
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let item = quote! { async fn h<T>(&self, a: T, b: T) { todo!() } };
        assert_eq!(
            messages(quote! { x }, item),
            [
                "`#[handler]` takes no arguments: expected `#[handler]`".to_owned(),
                format!("a handler cannot be `async`: {}", expected("h")),
                format!("a handler cannot be generic: {}", expected("h")),
                format!(
                    "a handler is a free function, not a method: {}",
                    expected("h")
                ),
                format!(
                    "a handler takes one parameter, the record, not 2: {}",
                    expected("h")
                ),
                format!(
                    "a handler returns `Result<Outcome, Error>`, not `()`: {}",
                    expected("h")
                ),
            ]
        );
    }
}
