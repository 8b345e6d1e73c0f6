//! Read, write, list, copy and delete S3 objects.
//!
//! Every call is checked against the plugin's grants before any I/O happens: a plugin may
//! always read the object that triggered it; every other object needs a `read` grant (head,
//! get, list, the source of a copy) or a `write` grant (put, create, delete, the target of a
//! copy). A call outside the grants returns [`ObjectError::Denied`].
//!
//! Small objects are simplest with [`read_all`] and [`put`]; large ones stream through a
//! [`Reader`] ([`get`]) and a [`Writer`] ([`create`]), which keeps memory bounded.
//!
//! # Example
//!
//! ```no_run
//! use s3plug_guest::{Error, Outcome, PutOptions, Record, objects};
//!
//! fn handle(record: Record) -> Result<Outcome, Error> {
//!     let text = objects::read_all(&record.bucket, &record.key)?;
//!     let upper = text.to_ascii_uppercase();
//!     let options = PutOptions::new().content_type("text/plain");
//!     objects::put(&record.bucket, &format!("upper/{}", record.key), &upper, &options)?;
//!     Ok(Outcome::done())
//! }
//! ```

mod list;
mod put_options;
mod reader;
mod writer;

pub use list::List;
pub use put_options::PutOptions;
pub use reader::Reader;
pub use writer::Writer;

use crate::ObjectError;
use crate::wit::s3plug::plugin::{objects as host, types};

/// What S3 knows about one object: its bucket, key, size, entity tag, content type, last
/// modification time and user metadata.
///
/// # Example
///
/// ```no_run
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let info = objects::head("photos", "2024/cat.jpg")?;
/// let kind = info.content_type.as_deref().unwrap_or("application/octet-stream");
/// println!("{} bytes of {kind}", info.size);
/// # Ok(())
/// # }
/// ```
#[doc(inline)]
pub use types::ObjectInfo;

/// One page of a listing, as [`list_page`] returns it: the objects of the page in key order,
/// and the token that asks for the next page (absent on the last page).
///
/// # Example
///
/// ```no_run
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let page = objects::list_page("logs", "2024/", None, 100)?;
/// for object in &page.objects {
///     println!("{}", object.key);
/// }
/// if let Some(next) = page.next.as_deref() {
///     let _more = objects::list_page("logs", "2024/", Some(next), 100)?;
/// }
/// # Ok(())
/// # }
/// ```
#[doc(inline)]
pub use types::ListPage;

/// Returns what S3 knows about an object, without its body.
///
/// ```no_run
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let size = objects::head("photos", "cat.jpg")?.size;
/// # Ok(())
/// # }
/// ```
pub fn head(bucket: &str, key: &str) -> Result<ObjectInfo, ObjectError> {
    Ok(host::head(bucket, key)?)
}

/// Opens an object for streaming reads.
///
/// ```no_run
/// use std::io::BufRead;
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let reader = objects::get("logs", "2024/app.log")?;
/// let mut errors = 0;
/// for line in reader.lines() {
///     if line?.contains("ERROR") {
///         errors += 1;
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub fn get(bucket: &str, key: &str) -> Result<Reader, ObjectError> {
    Reader::open(bucket, key, None)
}

/// Opens the bytes `first..=last` of an object for streaming reads, as HTTP's
/// `Range: bytes=first-last`; a `last` past the end reads to the end.
///
/// ```no_run
/// use std::io::Read;
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let mut magic = Vec::new();
/// objects::get_range("photos", "cat.jpg", 0, 3)?.read_to_end(&mut magic)?;
/// # Ok(())
/// # }
/// ```
pub fn get_range(bucket: &str, key: &str, first: u64, last: u64) -> Result<Reader, ObjectError> {
    Reader::open(bucket, key, Some((first, last)))
}

/// Reads a whole object into memory. Prefer [`get`] for objects that may be large.
///
/// ```no_run
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let body = objects::read_all("config", "settings.json")?;
/// # Ok(())
/// # }
/// ```
pub fn read_all(bucket: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
    get(bucket, key)?.read_rest()
}

/// Stores a small object in one call (up to 16 MiB; use [`create`] for more), replacing any
/// object at the same key.
///
/// ```no_run
/// # use s3plug_guest::{PutOptions, objects};
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let options = PutOptions::new().content_type("application/json").metadata("source", "demo");
/// let info = objects::put("reports", "today.json", b"{}", &options)?;
/// # Ok(())
/// # }
/// ```
pub fn put(
    bucket: &str,
    key: &str,
    body: &[u8],
    options: &PutOptions,
) -> Result<ObjectInfo, ObjectError> {
    // The host refuses a larger body too, but only after copying it (and past its copy
    // limit it stops the call): refused here, it never leaves the plugin.
    if body.len() > MAX_PUT_BYTES {
        return Err(ObjectError::TooLarge);
    }
    Ok(host::put(bucket, key, body, options.as_wit())?)
}

/// The largest body [`put`] takes: 16 MiB. Larger objects are streamed with [`create`].
pub const MAX_PUT_BYTES: usize = 16 << 20;

/// Starts a streaming write of a new object. Nothing is visible until
/// [`Writer::finish`] succeeds; a writer dropped without `finish` leaves no object behind.
///
/// ```no_run
/// use std::io::Write;
/// # use s3plug_guest::{PutOptions, objects};
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let options = PutOptions::new().content_type("text/plain");
/// let mut writer = objects::create("reports", "numbers.txt", &options)?;
/// for n in 0..1_000_000 {
///     writeln!(writer, "{n}")?;
/// }
/// let info = writer.finish()?;
/// # Ok(())
/// # }
/// ```
pub fn create(bucket: &str, key: &str, options: &PutOptions) -> Result<Writer, ObjectError> {
    Writer::create(bucket, key, options)
}

/// Lists the objects whose keys start with `prefix`, in key order. The iterator fetches
/// the pages as it goes and stops after the first error.
///
/// ```no_run
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let mut total = 0;
/// for object in objects::list("logs", "2024/") {
///     total += object?.size;
/// }
/// # Ok(())
/// # }
/// ```
pub fn list(bucket: &str, prefix: &str) -> List {
    List::new(bucket, prefix)
}

/// Lists one page of at most `max` objects (at most 1000) whose keys start with `prefix`.
/// Pass the previous page's [`next`](ListPage::next) to continue; [`list()`] does that for
/// you.
///
/// ```no_run
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let first = objects::list_page("logs", "", None, 10)?;
/// # Ok(())
/// # }
/// ```
pub fn list_page(
    bucket: &str,
    prefix: &str,
    next: Option<&str>,
    max: u32,
) -> Result<ListPage, ObjectError> {
    Ok(host::list_objects(bucket, prefix, next, max)?)
}

/// Copies an object, metadata included, within or across buckets, and returns what S3 knows
/// about the copy.
///
/// ```no_run
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// objects::copy("inbox", "a.pdf", "archive", "2024/a.pdf")?;
/// # Ok(())
/// # }
/// ```
pub fn copy(
    from_bucket: &str,
    from_key: &str,
    to_bucket: &str,
    to_key: &str,
) -> Result<ObjectInfo, ObjectError> {
    Ok(host::copy(from_bucket, from_key, to_bucket, to_key)?)
}

/// Deletes an object. Deleting an object that does not exist succeeds, as in S3.
///
/// ```no_run
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// objects::delete("inbox", "processed/a.pdf")?;
/// # Ok(())
/// # }
/// ```
pub fn delete(bucket: &str, key: &str) -> Result<(), ObjectError> {
    Ok(host::delete(bucket, key)?)
}
