//! The type checks behind [`#[handler]`](crate::handler). The attribute checks the shape of
//! the signature; these traits check its types, so that a plugin may name them by any path
//! or alias, and say what is expected when they are wrong.

use crate::{Error, Outcome, Record};

/// The type of a handler's parameter: [`Record`], taken by value or by reference.
#[diagnostic::on_unimplemented(
    message = "a handler takes `Record` or `&Record`, not `{Self}`",
    label = "expected `s3plug_guest::Record`",
    note = "expected `fn handle(record: Record) -> Result<Outcome, Error>`"
)]
pub trait HandlerRecord {
    /// Passes the record by value.
    fn from_record(record: Record) -> Self;

    /// Passes the record by reference.
    fn from_ref(record: &Record) -> &Self;
}

impl HandlerRecord for Record {
    fn from_record(record: Record) -> Self {
        record
    }

    fn from_ref(record: &Record) -> &Self {
        record
    }
}

/// The return type of a handler: `Result<Outcome, E>` with an `E` that converts into
/// [`Error`].
#[diagnostic::on_unimplemented(
    message = "a handler returns `Result<Outcome, E>` with `E: Into<Error>`, not `{Self}`",
    label = "expected `Result<Outcome, Error>`",
    note = "expected `fn handle(record: Record) -> Result<Outcome, Error>`"
)]
pub trait HandlerResult {
    /// Converts the error into [`Error`].
    fn into_result(self) -> Result<Outcome, Error>;
}

impl<E: Into<Error>> HandlerResult for Result<Outcome, E> {
    fn into_result(self) -> Result<Outcome, Error> {
        self.map_err(Into::into)
    }
}
