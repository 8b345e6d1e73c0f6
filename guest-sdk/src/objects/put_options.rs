//! [`PutOptions`]: how to store a new object.

use crate::wit::s3plug::plugin::types;

/// How to store a new object: its `Content-Type` and its user metadata. Pass it to
/// [`put`](super::put) or [`create`](super::create).
///
/// # Example
///
/// ```
/// use s3plug_guest::PutOptions;
///
/// let options = PutOptions::new()
///     .content_type("image/png")
///     .metadata("source", "uploads/cat.png")
///     .metadata("generator", "thumbnail");
/// ```
#[derive(Clone, Debug)]
pub struct PutOptions(types::PutOptions);

impl PutOptions {
    /// No content type and no metadata: S3 stores `binary/octet-stream`.
    ///
    /// ```
    /// # use s3plug_guest::PutOptions;
    /// let options = PutOptions::new();
    /// ```
    pub fn new() -> Self {
        Self(types::PutOptions {
            content_type: None,
            metadata: Vec::new(),
        })
    }

    /// Sets the `Content-Type` to store with the object.
    ///
    /// ```
    /// # use s3plug_guest::PutOptions;
    /// let options = PutOptions::new().content_type("application/x-ndjson");
    /// ```
    #[must_use]
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.0.content_type = Some(content_type.into());
        self
    }

    /// Adds one user metadata entry; `name` goes without the `x-amz-meta-` prefix.
    ///
    /// ```
    /// # use s3plug_guest::PutOptions;
    /// let options = PutOptions::new().metadata("source", "inbox/a.csv");
    /// ```
    #[must_use]
    pub fn metadata(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.metadata.push((name.into(), value.into()));
        self
    }

    pub(super) fn as_wit(&self) -> &types::PutOptions {
        &self.0
    }
}

impl Default for PutOptions {
    fn default() -> Self {
        Self::new()
    }
}
