//! [`List`]: a listing that follows continuation tokens.

use std::vec;

use super::{ObjectInfo, list_page};
use crate::ObjectError;

/// How many objects one host call asks for: the most S3 returns in one page.
const PAGE_SIZE: u32 = 1000;

/// An iterator over the objects whose keys start with a prefix, from
/// [`list`](super::list()). It fetches one page of up to 1000 objects at a time, following
/// continuation tokens, and ends after the first error.
///
/// # Example
///
/// ```no_run
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let keys: Vec<String> = objects::list("photos", "2024/")
///     .map(|object| object.map(|info| info.key))
///     .collect::<Result<_, _>>()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct List {
    bucket: String,
    prefix: String,
    page: vec::IntoIter<ObjectInfo>,
    /// The token for the next page; `None` before the first page and after the last.
    next: Option<String>,
    done: bool,
}

impl List {
    pub(super) fn new(bucket: &str, prefix: &str) -> Self {
        Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            page: Vec::new().into_iter(),
            next: None,
            done: false,
        }
    }
}

impl Iterator for List {
    type Item = Result<ObjectInfo, ObjectError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(object) = self.page.next() {
                return Some(Ok(object));
            }
            if self.done {
                return None;
            }
            match list_page(&self.bucket, &self.prefix, self.next.as_deref(), PAGE_SIZE) {
                Ok(page) => {
                    self.done = page.next.is_none();
                    self.next = page.next;
                    self.page = page.objects.into_iter();
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
    }
}

impl std::iter::FusedIterator for List {}
