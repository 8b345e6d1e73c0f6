//! Checks that the function under `#[handler]` has a handler's signature, and finds in it
//! what the generated code needs.
//!
//! Only the shape is checked here: the types are checked by the compiler, in the generated
//! code, against the SDK's traits in `s3plug_guest::__private`, so that they may be named
//! by any path or alias.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{FnArg, Ident, ReturnType, Signature, Type};

/// What the generated code needs from a handler's signature.
pub struct Handler<'a> {
    /// The function's name.
    pub name: &'a Ident,
    /// How the function takes the record.
    pub record: RecordParam<'a>,
    /// The declared return type: `Result<Outcome, E>`, the compiler checks.
    pub output: &'a Type,
}

/// How a handler takes the record.
pub enum RecordParam<'a> {
    /// `record: T`, where the compiler checks that `T` is `Record`.
    ByValue(&'a Type),
    /// `record: &T`, where the compiler checks that `T` is `Record`.
    ByRef(&'a Type),
}

/// The shape every error message asks for, with the handler's own name.
pub fn expected(name: &impl ToTokens) -> String {
    format!(
        "expected `fn {}(record: Record) -> Result<Outcome, Error>`",
        quote!(#name)
    )
}

/// Checks the signature; the error holds one message per problem, each spanned on the
/// tokens at fault.
pub fn check(signature: &Signature) -> syn::Result<Handler<'_>> {
    let expected = expected(&signature.ident);
    let mut errors = Errors::default();

    let qualifiers = [
        signature.constness.as_ref().map(ToTokens::to_token_stream),
        signature.asyncness.as_ref().map(ToTokens::to_token_stream),
        signature.unsafety.as_ref().map(ToTokens::to_token_stream),
        signature.abi.as_ref().map(ToTokens::to_token_stream),
    ];
    for qualifier in qualifiers.into_iter().flatten() {
        let message = format!("a handler cannot be `{qualifier}`: {expected}");
        errors.push(syn::Error::new_spanned(qualifier, message));
    }

    if !signature.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &signature.generics,
            format!("a handler cannot be generic: {expected}"),
        ));
    }
    if let Some(clause) = &signature.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            clause,
            format!("a handler cannot be generic: {expected}"),
        ));
    }

    let record = check_inputs(signature, &expected, &mut errors);

    let output = match &signature.output {
        ReturnType::Default => {
            errors.push(syn::Error::new_spanned(
                signature,
                format!("a handler returns `Result<Outcome, Error>`, not `()`: {expected}"),
            ));
            None
        }
        ReturnType::Type(_, output) if matches!(**output, Type::ImplTrait(_)) => {
            errors.push(syn::Error::new_spanned(
                output,
                format!("a handler returns `Result<Outcome, Error>`, not `impl Trait`: {expected}"),
            ));
            None
        }
        ReturnType::Type(_, output) => Some(&**output),
    };

    errors.finish()?;
    match (record, output) {
        (Some(record), Some(output)) => Ok(Handler {
            name: &signature.ident,
            record,
            output,
        }),
        // Every `None` above pushed an error, so `finish` has returned it.
        _ => Err(syn::Error::new_spanned(signature, expected)),
    }
}

/// Checks that the function takes exactly one parameter, the record, as `T` or `&T`.
fn check_inputs<'a>(
    signature: &'a Signature,
    expected: &str,
    errors: &mut Errors,
) -> Option<RecordParam<'a>> {
    let mut typed = Vec::new();
    for input in &signature.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                format!("a handler is a free function, not a method: {expected}"),
            )),
            FnArg::Typed(parameter) => typed.push(parameter),
        }
    }
    let has_receiver = typed.len() < signature.inputs.len();
    let variadic = signature.variadic.as_ref();
    let count = typed.len() + usize::from(variadic.is_some());

    match typed.as_slice() {
        [] if has_receiver => None,
        [] => {
            errors.push(syn::Error::new(
                signature.paren_token.span.join(),
                format!("a handler takes one parameter, the record: {expected}"),
            ));
            None
        }
        [parameter, extra @ ..] => {
            if count > 1 {
                let extra: TokenStream = extra
                    .iter()
                    .map(|parameter| parameter.to_token_stream())
                    .chain(variadic.map(ToTokens::to_token_stream))
                    .collect();
                errors.push(syn::Error::new_spanned(
                    extra,
                    format!("a handler takes one parameter, the record, not {count}: {expected}"),
                ));
            }
            record_param(&parameter.ty, expected, errors)
        }
    }
}

/// Tells how the parameter's type takes the record; the compiler checks the type itself.
fn record_param<'a>(ty: &'a Type, expected: &str, errors: &mut Errors) -> Option<RecordParam<'a>> {
    match ty {
        Type::Reference(reference) if reference.mutability.is_some() => {
            errors.push(syn::Error::new_spanned(
                ty,
                format!(
                    "a handler takes `Record` or `&Record`, not a `&mut` reference: {expected}"
                ),
            ));
            None
        }
        Type::Reference(reference) => Some(RecordParam::ByRef(&reference.elem)),
        Type::ImplTrait(_) => {
            errors.push(syn::Error::new_spanned(
                ty,
                format!("a handler takes `Record` or `&Record`, not `impl Trait`: {expected}"),
            ));
            None
        }
        ty => Some(RecordParam::ByValue(ty)),
    }
}

/// Gathers errors so that one compilation reports every problem of a signature at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds an error.
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Returns the errors, if there are any.
    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
