//! s3plug runs S3-event handlers as sandboxed WebAssembly components.
//!
//! An S3 event (direct, or through SQS, SNS or EventBridge) is decoded into records
//! ([`event`]); each record is routed by bucket, key and event type to the plugins
//! configured for it ([`config`], [`route`]); each plugin runs in a fresh sandbox whose only
//! reach is the objects its grants allow ([`plugin`], [`grant`], [`store`]); and each
//! (record, plugin) ends as one [`outcome::RecordOutcome`].

mod bounded;
pub mod config;
pub mod dedupe;
pub mod event;
pub mod eventgen;
pub mod frontend;
pub mod grant;
pub mod guard;
mod hex;
mod host_state;
pub mod outcome;
pub mod pipeline;
pub mod plugin;
pub mod policy;
pub mod report;
pub mod route;
pub mod s3key;
pub mod scaffold;
pub mod store;
pub mod telemetry;
pub mod testcase;
mod tombstone;
mod trace;

pub use config::Config;
pub use pipeline::{Pipeline, Request};
