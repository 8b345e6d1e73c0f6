//! Write s3plug plugins: S3-event handlers that the s3plug host runs as sandboxed
//! WebAssembly components.
//!
//! A plugin is one function marked [`#[handler]`](handler), or, the long form, a type that
//! implements [`Plugin`] plus one [`export!`] line. The host calls the handler once for
//! every S3 record routed to the plugin. The handler reaches the world only through this
//! crate:
//!
//! - [`objects`]: read, write, list, copy and delete S3 objects, within the buckets and
//!   prefixes the plugin's configuration grants (the triggering object is always readable);
//! - [`log`]: levelled log lines, written by the host with the plugin's name and the object;
//! - [`config`]: the plugin's own settings, the `config` table of its `[[plugin]]` entry.
//!
//! There are no files, no network and no environment variables; clocks and random numbers
//! work as usual through WASI.
//!
//! # Quick start
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "copy-plugin"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! # This crate lives in the s3plug repository, next to the host.
//! s3plug-guest = { path = "../s3plug/guest-sdk" }
//! ```
//!
//! `src/lib.rs`, a plugin that copies every new object under `copies/`:
//!
//! ```rust,standalone_crate
//! use s3plug_guest::{Error, Outcome, Record, handler, log, objects};
//!
//! #[handler]
//! fn copy(record: Record) -> Result<Outcome, Error> {
//!     if record.key.starts_with("copies/") {
//!         // Our own output triggers us too: do not copy the copies.
//!         return Ok(Outcome::skipped("already a copy"));
//!     }
//!     let target = format!("copies/{}", record.key);
//!     let info = objects::copy(&record.bucket, &record.key, &record.bucket, &target)?;
//!     log::info!("copied {} bytes", info.size);
//!     Ok(Outcome::processed(format!("copied to {target}")))
//! }
//! # fn main() {}
//! ```
//!
//! [`#[handler]`](handler) accepts `fn NAME(record: Record) -> Result<Outcome, Error>`, with
//! the record by value or by reference and any error type that converts into [`Error`]; a
//! wrong signature is a compile error that says what is expected. The same plugin in the
//! long form, a type that implements [`Plugin`], exported with [`export!`]:
//!
//! ```rust,standalone_crate
//! use s3plug_guest::{Error, Outcome, Plugin, Record, log, objects};
//!
//! struct CopyPlugin;
//!
//! impl Plugin for CopyPlugin {
//!     fn handle(record: Record) -> Result<Outcome, Error> {
//!         if record.key.starts_with("copies/") {
//!             return Ok(Outcome::skipped("already a copy"));
//!         }
//!         let target = format!("copies/{}", record.key);
//!         let info = objects::copy(&record.bucket, &record.key, &record.bucket, &target)?;
//!         log::info!("copied {} bytes", info.size);
//!         Ok(Outcome::processed(format!("copied to {target}")))
//!     }
//! }
//!
//! s3plug_guest::export!(CopyPlugin);
//! # fn main() {}
//! ```
//!
//! Either way, one handler per crate: a component has one `handle` export.
//!
//! Build the component (the `wasm32-wasip2` target links a component directly):
//!
//! ```text
//! rustup target add wasm32-wasip2
//! cargo build --target wasm32-wasip2 --release
//! # -> target/wasm32-wasip2/release/copy_plugin.wasm
//! ```
//!
//! # Errors
//!
//! A handler returns [`Error`], which any `std::error::Error` converts into with `?`. Add
//! context with [`Context`], or make one with [`Error::msg`] or [`bail!`]. The host receives
//! the error's text with its whole chain of causes, reports the record as failed and retries
//! it where its source retries. The [`objects`] functions return [`ObjectError`], which
//! names what went wrong so a handler can decide, for example, to skip a missing object.

#![deny(missing_docs)]

pub mod config;
mod error;
mod handler_signature;
pub mod log;
mod object_error;
pub mod objects;
mod plugin;

#[doc(hidden)]
pub mod wit;

pub use error::{Context, Error};
pub use object_error::ObjectError;
pub use objects::{ObjectInfo, PutOptions};
pub use plugin::{Outcome, Plugin, Record};
pub use s3plug_guest_macros::handler;

/// What the [`export!`] and [`#[handler]`](handler) macros expand to; not part of the
/// public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::handler_signature::{HandlerRecord, HandlerResult};
    pub use crate::plugin::handle;
}
