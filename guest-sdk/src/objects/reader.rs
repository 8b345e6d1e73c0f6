//! [`Reader`]: a streaming read of one object.

use std::{cmp, fmt, io};

use super::{ObjectInfo, host};
use crate::ObjectError;

/// How many bytes one host call asks for. Larger chunks mean fewer calls across the
/// component boundary; each chunk is held in memory once.
const CHUNK_BYTES: u32 = 256 * 1024;

/// What [`Reader::read_rest`] allocates up front at most, whatever size the object claims.
const MAX_PREALLOCATED_BYTES: u64 = 64 * 1024 * 1024;

/// A streaming read of one object (or one byte range of it), from [`get`](super::get) or
/// [`get_range`](super::get_range).
///
/// It implements [`io::Read`] and [`io::BufRead`], so it plugs into the `csv` crate,
/// `serde_json::from_reader`, [`io::copy`] and the like. It fetches about 256 KiB per host
/// call and holds one such chunk at a time. Its errors are `io::Error`s that carry the
/// [`ObjectError`].
///
/// # Example
///
/// ```no_run
/// use std::io::{self, Read};
/// # use s3plug_guest::objects;
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let mut reader = objects::get("uploads", "big.bin")?;
/// let size = reader.info().size;
/// let mut counts = [0_u64; 256];
/// let mut buffer = vec![0; 64 * 1024];
/// loop {
///     let n = reader.read(&mut buffer)?;
///     if n == 0 {
///         break;
///     }
///     buffer[..n].iter().for_each(|&byte| counts[usize::from(byte)] += 1);
/// }
/// # Ok(())
/// # }
/// ```
pub struct Reader {
    handle: host::Reader,
    info: ObjectInfo,
    chunk: Vec<u8>,
    position: usize,
    at_end: bool,
}

impl Reader {
    pub(super) fn open(
        bucket: &str,
        key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Self, ObjectError> {
        let handle = host::get(bucket, key, range)?;
        let info = handle.info();
        Ok(Self {
            handle,
            info,
            chunk: Vec::new(),
            position: 0,
            at_end: false,
        })
    }

    /// What S3 said about the object when the read began.
    ///
    /// ```no_run
    /// # use s3plug_guest::objects;
    /// # fn main() -> Result<(), s3plug_guest::Error> {
    /// let reader = objects::get("uploads", "photo.png")?;
    /// let is_png = reader.info().content_type.as_deref() == Some("image/png");
    /// # Ok(())
    /// # }
    /// ```
    pub fn info(&self) -> &ObjectInfo {
        &self.info
    }

    /// Reads everything that is left into memory.
    ///
    /// ```no_run
    /// # use s3plug_guest::objects;
    /// # fn main() -> Result<(), s3plug_guest::Error> {
    /// let body = objects::get("uploads", "small.txt")?.read_rest()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn read_rest(mut self) -> Result<Vec<u8>, ObjectError> {
        // A hint only: the host may report the size of the object rather than of a range.
        let expected = cmp::min(self.info.size, MAX_PREALLOCATED_BYTES);
        let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        body.extend_from_slice(&self.chunk[self.position..]);
        while self.fetch()? {
            body.extend_from_slice(&self.chunk);
        }
        Ok(body)
    }

    /// Replaces the current chunk with the next one; `false` at the end of the object.
    fn fetch(&mut self) -> Result<bool, ObjectError> {
        self.position = 0;
        self.chunk.clear();
        if self.at_end {
            return Ok(false);
        }
        self.chunk = self.handle.read(CHUNK_BYTES)?;
        self.at_end = self.chunk.is_empty();
        Ok(!self.at_end)
    }
}

impl io::Read for Reader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let available = io::BufRead::fill_buf(self)?;
        let n = cmp::min(available.len(), buffer.len());
        buffer[..n].copy_from_slice(&available[..n]);
        io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl io::BufRead for Reader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.position == self.chunk.len() {
            self.fetch()?;
        }
        Ok(&self.chunk[self.position..])
    }

    fn consume(&mut self, amount: usize) {
        self.position = cmp::min(self.position + amount, self.chunk.len());
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("info", &self.info)
            .field("buffered", &(self.chunk.len() - self.position))
            .field("at_end", &self.at_end)
            .finish_non_exhaustive()
    }
}
