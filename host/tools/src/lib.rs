//! s3plug's tools for plugin authors, beside the runtime (`s3plug-host`) they drive:
//!
//! - [`eventgen`]: S3 events as S3, SQS, SNS, EventBridge and self-hosted stores send them;
//! - [`testcase`]: `s3plug test`'s case files, which `cargo test` can run too;
//! - [`scaffold`]: the projects `s3plug new` makes;
//! - `dev` (feature `dev`): `s3plug dev`, a local S3 endpoint whose writes run the plugins.

#[cfg(feature = "dev")]
pub mod dev;
pub mod eventgen;
pub mod scaffold;
pub mod testcase;

/// The key pair `s3plug dev` accepts when none is given (the scaffolds print it too).
pub mod dev_credentials {
    pub const ACCESS_KEY: &str = "s3plug";
    pub const SECRET_KEY: &str = "s3plug-dev-secret";
}
