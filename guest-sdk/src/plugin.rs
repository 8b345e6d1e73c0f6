//! The handler side of the contract: the [`Plugin`] trait, what it receives ([`Record`]) and
//! what it returns ([`Outcome`]), and the [`export!`](crate::export!) macro that connects it
//! to the host.

use crate::Error;
use crate::wit::s3plug::plugin::types;

/// One S3 object event, as the host decoded it from whichever envelope carried it (a direct
/// S3 notification, SQS, SNS, EventBridge or an S3-compatible store's webhook).
///
/// Pass [`bucket`](Record::bucket) and [`key`](Record::key) (the decoded key) to the
/// [`objects`](crate::objects) functions; [`raw_key`](Record::raw_key) is the key exactly as
/// the event carried it.
///
/// # Example
///
/// ```
/// use s3plug_guest::{Outcome, Record};
///
/// fn describe(record: &Record) -> Outcome {
///     if !record.event_name.starts_with("ObjectCreated:") {
///         return Outcome::skipped(format!("{} events are not handled", record.event_name));
///     }
///     let size = record.size.map_or_else(|| "?".to_owned(), |size| size.to_string());
///     Outcome::processed(format!("{}/{} has {size} bytes", record.bucket, record.key))
/// }
/// ```
#[doc(inline)]
pub use types::S3Record as Record;

/// What a handler did with a record it handled without error; the host logs and reports it.
///
/// Build one with [`Outcome::processed`], [`Outcome::skipped`] or [`Outcome::done`].
///
/// # Example
///
/// ```
/// use s3plug_guest::Outcome;
///
/// let outcome = Outcome::skipped("not an image");
/// assert!(matches!(outcome, Outcome::Skipped(Some(reason)) if reason == "not an image"));
/// ```
#[doc(inline)]
pub use types::Outcome;

impl Outcome {
    /// The handler did its job; `message` says what.
    ///
    /// ```
    /// # use s3plug_guest::Outcome;
    /// let outcome = Outcome::processed("wrote 3 rows");
    /// ```
    pub fn processed(message: impl Into<String>) -> Self {
        Self::Processed(Some(message.into()))
    }

    /// The handler did its job and has nothing to add.
    ///
    /// ```
    /// # use s3plug_guest::Outcome;
    /// assert!(matches!(Outcome::done(), Outcome::Processed(None)));
    /// ```
    pub fn done() -> Self {
        Self::Processed(None)
    }

    /// The handler chose to do nothing with this record; `reason` says why.
    ///
    /// ```
    /// # use s3plug_guest::Outcome;
    /// let outcome = Outcome::skipped("delete events are not handled");
    /// ```
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self::Skipped(Some(reason.into()))
    }
}

/// An S3-event handler. Implement it on a type of your own and export that type with
/// [`export!`](crate::export!); or write the handler as a function and mark it with
/// [`#[handler]`](crate::handler), which does both.
///
/// The host calls [`handle`](Plugin::handle) once for every record routed to the plugin,
/// each time in a fresh instance: nothing survives from one record to the next.
///
/// # Example
///
/// ```rust,standalone_crate
/// use s3plug_guest::{Error, Outcome, Plugin, Record, bail, objects};
///
/// struct SizeCheck;
///
/// impl Plugin for SizeCheck {
///     fn handle(record: Record) -> Result<Outcome, Error> {
///         let info = objects::head(&record.bucket, &record.key)?;
///         if info.size == 0 {
///             bail!("{:?} is empty", record.key);
///         }
///         Ok(Outcome::done())
///     }
/// }
///
/// s3plug_guest::export!(SizeCheck);
/// # fn main() {}
/// ```
pub trait Plugin {
    /// Handles one record.
    ///
    /// Return [`Outcome::processed`] or [`Outcome::skipped`] when the record was handled,
    /// and an [`Error`] when it failed: the host reports a failed record with the error's
    /// text and retries it where its source retries. A panic or a trap also fails the
    /// record, without a useful message.
    fn handle(record: Record) -> Result<Outcome, Error>;
}

/// Exports a [`Plugin`] as the component's `handle` function. Use it once per plugin
/// crate, at the top level; [`#[handler]`](crate::handler) counts as one use.
///
/// A second `export!` or `#[handler]` in the same crate is a compile error: "the name
/// `__s3plug_guest_one_export_per_crate` is defined multiple times".
///
/// # Example
///
/// ```rust,standalone_crate
/// use s3plug_guest::{Error, Outcome, Plugin, Record};
///
/// struct Hello;
///
/// impl Plugin for Hello {
///     fn handle(record: Record) -> Result<Outcome, Error> {
///         Ok(Outcome::processed(format!("hello, {}", record.key)))
///     }
/// }
///
/// s3plug_guest::export!(Hello);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export {
    ($plugin:ty) => {
        // Two exports in one crate would define the `handle` symbol twice and fail late, at
        // code generation or at the link. Every export defines this macro at the crate root
        // (where `#[macro_export]` puts it), so a second one fails early, with its name.
        #[doc(hidden)]
        #[macro_export]
        macro_rules! __s3plug_guest_one_export_per_crate {
            () => {};
        }

        const _: () = {
            struct S3plugExport;

            impl $crate::wit::Guest for S3plugExport {
                fn handle(
                    record: $crate::Record,
                ) -> ::core::result::Result<$crate::Outcome, ::std::string::String> {
                    $crate::__private::handle::<$plugin>(record)
                }
            }

    $crate::wit::export!(S3plugExport with_types_in $crate::wit);
        };
    };
}

/// Runs the plugin's handler and turns its error into the text the WIT export returns: the
/// error's message followed by its causes.
pub fn handle<P: Plugin>(record: Record) -> Result<Outcome, String> {
    P::handle(record).map_err(|error| error.to_string())
}
