//! The `#[handler]` attribute of `s3plug-guest`. Plugins use it through that crate, as
//! `s3plug_guest::handler`, and its documentation is there.

mod expand;
mod signature;

use proc_macro::TokenStream;

/// Makes a function the plugin's handler: the host calls it once for every S3 record
/// routed to the plugin, each time in a fresh instance.
///
/// ```rust,standalone_crate
/// use s3plug_guest::{Error, Outcome, Record, handler, objects};
///
/// #[handler]
/// fn handle(record: Record) -> Result<Outcome, Error> {
///     let info = objects::head(&record.bucket, &record.key)?;
///     Ok(Outcome::processed(format!("{} has {} bytes", record.key, info.size)))
/// }
/// # fn main() {}
/// ```
///
/// It is the short form of a type that implements `Plugin` plus an `export!` line. The
/// function stays as written; next to it, in an anonymous `const` block, the attribute adds
/// a type that implements `Plugin` by calling the function, and the `export!` of that type.
///
/// # Accepted signatures
///
/// ```text
/// fn NAME(PATTERN: Record) -> Result<Outcome, E>
/// fn NAME(PATTERN: &Record) -> Result<Outcome, E>
/// ```
///
/// - `NAME` and the parameter's `PATTERN` are free: `record`, `mut record`, `_`,
///   `Record { key, .. }`.
/// - `Record`, `Outcome` and `Error` may be named by any path or alias (`Record`,
///   `s3plug_guest::Record`, `sdk::Record`): the compiler checks the types, not their
///   names.
/// - `E` is `Error` or any type that converts into it: every `std::error::Error + Send +
///   Sync + 'static`, such as `ObjectError` or `std::io::Error`.
/// - Visibility, doc comments and other attributes stay as they are.
///
/// One handler per crate: a component has one `handle` export, so `#[handler]` counts as
/// one `export!`.
///
/// The generated code names the SDK `::s3plug_guest`: keep the dependency's name (no
/// `package = "s3plug-guest"` under another name).
///
/// # Errors
///
/// A wrong signature is a compile error on the tokens at fault, which says what is
/// expected (`NAME` is the function's name):
///
/// | what | error |
/// | --- | --- |
/// | not on a function | `` `#[handler]` goes on a function: expected `fn handle(record: Record) -> Result<Outcome, Error>` `` |
/// | with arguments | `` `#[handler]` takes no arguments: expected `#[handler]` `` |
/// | `async`, `const`, `unsafe`, `extern "C"` | `` a handler cannot be `async`: expected `fn NAME(record: Record) -> Result<Outcome, Error>` `` |
/// | type or lifetime parameters, `where` | `` a handler cannot be generic: expected … `` |
/// | no parameter | `` a handler takes one parameter, the record: expected … `` |
/// | two or more parameters | `` a handler takes one parameter, the record, not 2: expected … `` |
/// | `self`, `&self`, ... | `` a handler is a free function, not a method: expected … `` |
/// | `&mut Record`, `impl Trait` | `` a handler takes `Record` or `&Record`, not a `&mut` reference: expected … `` |
/// | another parameter type | `` a handler takes `Record` or `&Record`, not `String` `` |
/// | no return type, `impl Trait` | `` a handler returns `Result<Outcome, Error>`, not `()`: expected … `` |
/// | another return type | `` a handler returns `Result<Outcome, E>` with `E: Into<Error>`, not `Outcome` `` |
/// | an error type that does not convert | `` the trait bound `String: std::error::Error` is not satisfied ``, then `` required for `Result<Outcome, String>` to implement `HandlerResult` `` |
/// | a second handler or `export!` in the crate | `` the name `__s3plug_guest_one_export_per_crate` is defined multiple times `` |
///
/// The errors the compiler finds in the types (another parameter or return type) point at
/// the type and add ``note: expected `fn handle(record: Record) -> Result<Outcome, Error>` ``.
///
/// The compiler cannot see the rest:
///
/// - two handlers in two crates linked together, for example a plugin that depends on
///   another plugin crate as a library: the link fails with a duplicate `handle` symbol;
/// - `#[handler]` on an associated function without `self`, inside an `impl` block: the
///   generated items are not valid there, and the compiler's error does not name the
///   attribute.
///
/// # Examples
///
/// The record by reference, the types by their paths, and a narrower error type:
///
/// ```rust,standalone_crate
/// use s3plug_guest::{ObjectError, objects};
///
/// /// Deletes every object it hears of.
/// #[s3plug_guest::handler]
/// pub fn delete_all(record: &s3plug_guest::Record) -> Result<s3plug_guest::Outcome, ObjectError> {
///     objects::delete(&record.bucket, &record.key)?;
///     Ok(s3plug_guest::Outcome::done())
/// }
/// # fn main() {}
/// ```
///
/// The function stays an ordinary function, which tests call natively:
///
/// ```rust,standalone_crate
/// use s3plug_guest::{Error, Outcome, Record, handler};
///
/// #[handler]
/// fn only_creations(record: Record) -> Result<Outcome, Error> {
///     if !record.event_name.starts_with("ObjectCreated:") {
///         return Ok(Outcome::skipped(format!("{} is no creation", record.event_name)));
///     }
///     Ok(Outcome::done())
/// }
///
/// # fn main() {
/// let record = Record {
///     event_name: "ObjectRemoved:Delete".to_owned(),
/// #   event_time: "1970-01-01T00:00:00.000Z".to_owned(),
/// #   bucket: "photos".to_owned(),
/// #   key: "cat.jpg".to_owned(),
/// #   raw_key: "cat.jpg".to_owned(),
/// #   size: None,
/// #   etag: None,
/// #   version_id: None,
/// #   sequencer: None,
/// #   region: None,
/// #   principal: None,
/// #   source_ip: None,
///     // ...
/// };
/// let outcome = only_creations(record).unwrap();
/// assert!(matches!(outcome, Outcome::Skipped(Some(reason)) if reason.contains("no creation")));
/// # }
/// ```
///
/// # Wrong signatures
///
/// Each of these fails to compile, with the error in the table above.
///
/// On something else than a function:
///
/// ```compile_fail
/// #[s3plug_guest::handler]
/// struct Handler;
/// # fn main() {}
/// ```
///
/// With arguments:
///
/// ```compile_fail
/// # use s3plug_guest::{Error, Outcome, Record};
/// #[s3plug_guest::handler(name = "thumbnail")]
/// fn handle(record: Record) -> Result<Outcome, Error> {
///     Ok(Outcome::done())
/// }
/// # fn main() {}
/// ```
///
/// `async`:
///
/// ```compile_fail
/// # use s3plug_guest::{Error, Outcome, Record};
/// #[s3plug_guest::handler]
/// async fn handle(record: Record) -> Result<Outcome, Error> {
///     Ok(Outcome::done())
/// }
/// # fn main() {}
/// ```
///
/// `unsafe`:
///
/// ```compile_fail
/// # use s3plug_guest::{Error, Outcome, Record};
/// #[s3plug_guest::handler]
/// unsafe fn handle(record: Record) -> Result<Outcome, Error> {
///     Ok(Outcome::done())
/// }
/// # fn main() {}
/// ```
///
/// Generic:
///
/// ```compile_fail
/// # use s3plug_guest::{Error, Outcome, Record};
/// #[s3plug_guest::handler]
/// fn handle<R: Into<Record>>(record: R) -> Result<Outcome, Error> {
///     Ok(Outcome::done())
/// }
/// # fn main() {}
/// ```
///
/// No parameter:
///
/// ```compile_fail
/// # use s3plug_guest::{Error, Outcome};
/// #[s3plug_guest::handler]
/// fn handle() -> Result<Outcome, Error> {
///     Ok(Outcome::done())
/// }
/// # fn main() {}
/// ```
///
/// Two parameters:
///
/// ```compile_fail
/// # use s3plug_guest::{Error, Outcome, Record};
/// #[s3plug_guest::handler]
/// fn handle(record: Record, attempt: u32) -> Result<Outcome, Error> {
///     Ok(Outcome::done())
/// }
/// # fn main() {}
/// ```
///
/// A method:
///
/// ```compile_fail
/// # use s3plug_guest::{Error, Outcome, Record};
/// struct Plugin;
///
/// impl Plugin {
///     #[s3plug_guest::handler]
///     fn handle(&self, record: Record) -> Result<Outcome, Error> {
///         Ok(Outcome::done())
///     }
/// }
/// # fn main() {}
/// ```
///
/// The record by `&mut`:
///
/// ```compile_fail
/// # use s3plug_guest::{Error, Outcome, Record};
/// #[s3plug_guest::handler]
/// fn handle(record: &mut Record) -> Result<Outcome, Error> {
///     Ok(Outcome::done())
/// }
/// # fn main() {}
/// ```
///
/// Another parameter type:
///
/// ```compile_fail,E0277
/// # use s3plug_guest::{Error, Outcome};
/// #[s3plug_guest::handler]
/// fn handle(key: String) -> Result<Outcome, Error> {
///     Ok(Outcome::done())
/// }
/// # fn main() {}
/// ```
///
/// No return type:
///
/// ```compile_fail
/// # use s3plug_guest::Record;
/// #[s3plug_guest::handler]
/// fn handle(record: Record) {}
/// # fn main() {}
/// ```
///
/// Another return type:
///
/// ```compile_fail,E0277
/// # use s3plug_guest::{Outcome, Record};
/// #[s3plug_guest::handler]
/// fn handle(record: Record) -> Outcome {
///     Outcome::done()
/// }
/// # fn main() {}
/// ```
///
/// An error type that does not convert into `Error`:
///
/// ```compile_fail,E0277
/// # use s3plug_guest::{Outcome, Record};
/// #[s3plug_guest::handler]
/// fn handle(record: Record) -> Result<Outcome, String> {
///     Ok(Outcome::done())
/// }
/// # fn main() {}
/// ```
///
/// Two handlers in one crate, in different modules:
///
/// ```compile_fail,E0428
/// mod first {
///     # use s3plug_guest::{Error, Outcome, Record};
///     #[s3plug_guest::handler]
///     fn handle(record: Record) -> Result<Outcome, Error> {
///         Ok(Outcome::done())
///     }
/// }
///
/// mod second {
///     # use s3plug_guest::{Error, Outcome, Record};
///     #[s3plug_guest::handler]
///     fn handle(record: Record) -> Result<Outcome, Error> {
///         Ok(Outcome::done())
///     }
/// }
/// # fn main() {}
/// ```
///
/// A handler and an `export!`:
///
/// ```compile_fail,E0428
/// # use s3plug_guest::{Error, Outcome, Plugin, Record};
/// #[s3plug_guest::handler]
/// fn handle(record: Record) -> Result<Outcome, Error> {
///     Ok(Outcome::done())
/// }
///
/// struct Other;
///
/// impl Plugin for Other {
///     fn handle(record: Record) -> Result<Outcome, Error> {
///         Ok(Outcome::done())
///     }
/// }
///
/// s3plug_guest::export!(Other);
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::handler(args.into(), item.into()).into()
}
