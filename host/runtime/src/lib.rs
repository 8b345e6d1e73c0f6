//! The s3plug runtime: S3-event handlers as sandboxed WebAssembly components.
//!
//! An S3 event (direct, or through SQS, SNS or EventBridge) is decoded into records
//! ([`event`]); each record is routed by bucket, key and event type to the plugins
//! configured for it ([`config`], [`route`]); each plugin runs in a fresh sandbox whose only
//! reach is the objects its grants allow ([`plugin`], [`grant`], [`store`]), under the loop
//! guards ([`guard`]); and each (record, plugin) ends as one [`outcome::RecordOutcome`].
//! What happens inside a call (plugin log lines, denials, writes) is handed to
//! [`observe::Observer`]s as data.
//!
//! Everything starts through [`Pipeline::load`]. The front ends (Lambda, `serve`, the
//! command line) are in the `s3plug` crate, the author tooling in `s3plug-tools`.

pub mod bounded;
pub mod config;
pub mod dedupe;
pub mod digest;
pub mod event;
pub mod grant;
pub mod guard;
mod host_state;
pub mod iam_policy;
pub mod metrics;
pub mod observe;
pub mod outcome;
pub mod pipeline;
pub mod plugin;
pub mod report;
pub mod route;
pub mod s3key;
pub mod store;
mod tombstone;
pub mod trace;

pub use config::Config;
pub use pipeline::{Pipeline, Request, StartError};
