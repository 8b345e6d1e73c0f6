//! [`Writer`]: a streaming write of one new object.

use std::{cmp, fmt, io};

use super::{ObjectInfo, PutOptions, host};
use crate::ObjectError;

/// How many bytes one host call sends. Small writes are gathered until a chunk is full, so a
/// writer makes one host call per 256 KiB whatever the caller's write sizes; the chunk is
/// held in memory once.
const CHUNK_BYTES: usize = 256 * 1024;

/// A streaming write of one new object, from [`create`](super::create).
///
/// It implements [`io::Write`] with its own buffering: wrap it in nothing, write as little
/// at a time as is convenient. Nothing is visible until [`finish`](Writer::finish) succeeds;
/// a writer dropped without `finish` (on an error, say) is aborted and leaves no object
/// behind. Its errors are `io::Error`s that carry the [`ObjectError`].
///
/// # Example
///
/// ```no_run
/// use std::io::Write;
/// # use s3plug_guest::{PutOptions, objects};
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let mut writer = objects::create("exports", "squares.csv", &PutOptions::new())?;
/// writeln!(writer, "n,square")?;
/// for n in 0..100_000_u64 {
///     writeln!(writer, "{n},{}", n * n)?;
/// }
/// let info = writer.finish()?;
/// assert!(info.size > 0);
/// # Ok(())
/// # }
/// ```
pub struct Writer {
    handle: host::Writer,
    chunks: Chunker,
}

impl Writer {
    pub(super) fn create(
        bucket: &str,
        key: &str,
        options: &PutOptions,
    ) -> Result<Self, ObjectError> {
        let handle = host::create(bucket, key, options.as_wit())?;
        Ok(Self {
            handle,
            chunks: Chunker::new(CHUNK_BYTES),
        })
    }

    /// Sends what is buffered, completes the object and makes it visible.
    ///
    /// ```no_run
    /// use std::io::Write;
    /// # use s3plug_guest::{PutOptions, objects};
    /// # fn main() -> Result<(), s3plug_guest::Error> {
    /// let mut writer = objects::create("exports", "hello.txt", &PutOptions::new())?;
    /// writer.write_all(b"hello")?;
    /// let info = writer.finish()?;
    /// assert_eq!(info.size, 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn finish(mut self) -> Result<ObjectInfo, ObjectError> {
        let handle = &self.handle;
        self.chunks.flush(|chunk| send(handle, chunk))?;
        Ok(self.handle.finish()?)
    }
}

fn send(handle: &host::Writer, chunk: &[u8]) -> Result<(), ObjectError> {
    Ok(handle.write(chunk)?)
}

impl io::Write for Writer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let handle = &self.handle;
        Ok(self.chunks.write(data, |chunk| send(handle, chunk))?)
    }

    /// Sends the buffered bytes to the host. The object still becomes visible only with
    /// [`finish`](Writer::finish), which sends them too: calling `flush` is never needed.
    fn flush(&mut self) -> io::Result<()> {
        let handle = &self.handle;
        Ok(self.chunks.flush(|chunk| send(handle, chunk))?)
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("buffered", &self.chunks.buffer.len())
            .finish_non_exhaustive()
    }
}

/// Gathers writes of any size into chunks of exactly `size` bytes (the last one excepted),
/// each handed to a `send` function.
#[derive(Debug)]
struct Chunker {
    size: usize,
    buffer: Vec<u8>,
}

impl Chunker {
    fn new(size: usize) -> Self {
        Self {
            size,
            buffer: Vec::with_capacity(size),
        }
    }

    /// Takes some of `data` and returns how much, as [`io::Write::write`]: on an error,
    /// nothing of `data` was taken and the buffered bytes are kept.
    fn write(
        &mut self,
        data: &[u8],
        mut send: impl FnMut(&[u8]) -> Result<(), ObjectError>,
    ) -> Result<usize, ObjectError> {
        if self.buffer.len() == self.size {
            self.flush(&mut send)?;
        }
        if self.buffer.is_empty() && data.len() >= self.size {
            // A whole chunk from the caller: send it without copying.
            send(&data[..self.size])?;
            return Ok(self.size);
        }
        let n = cmp::min(data.len(), self.size - self.buffer.len());
        self.buffer.extend_from_slice(&data[..n]);
        Ok(n)
    }

    /// Sends the buffered bytes, if any; on an error they stay buffered.
    fn flush(
        &mut self,
        mut send: impl FnMut(&[u8]) -> Result<(), ObjectError>,
    ) -> Result<(), ObjectError> {
        if !self.buffer.is_empty() {
            send(&self.buffer)?;
            self.buffer.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes every piece whole, as `write_all` does, then flushes; returns the sent chunks.
    fn chunks_of(size: usize, pieces: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut chunker = Chunker::new(size);
        let mut sent = Vec::new();
        for piece in pieces {
            let mut rest = *piece;
            while !rest.is_empty() {
                let n = chunker
                    .write(rest, |chunk| {
                        sent.push(chunk.to_vec());
                        Ok(())
                    })
                    .expect("sending succeeds");
                rest = &rest[n..];
            }
        }
        chunker
            .flush(|chunk| {
                sent.push(chunk.to_vec());
                Ok(())
            })
            .expect("sending succeeds");
        sent
    }

    #[test]
    fn small_writes_are_gathered_into_full_chunks() {
        let sent = chunks_of(4, &[b"a", b"bc", b"def", b"g", b"hij"]);
        assert_eq!(sent, [b"abcd".to_vec(), b"efgh".to_vec(), b"ij".to_vec()]);
    }

    #[test]
    fn large_writes_are_cut_into_chunks() {
        let sent = chunks_of(4, &[b"x", b"0123456789"]);
        assert_eq!(sent, [b"x012".to_vec(), b"3456".to_vec(), b"789".to_vec()]);
    }

    #[test]
    fn nothing_written_sends_nothing() {
        assert!(chunks_of(4, &[]).is_empty());
    }

    #[test]
    fn a_failed_send_takes_nothing_and_keeps_the_buffer() {
        let mut chunker = Chunker::new(2);
        let ok = |_: &[u8]| Ok(());
        assert_eq!(chunker.write(b"ab", ok), Ok(2));
        // The buffer was empty and "ab" a whole chunk: it went out directly.
        assert_eq!(chunker.write(b"c", ok), Ok(1));
        assert_eq!(chunker.write(b"d", ok), Ok(1));
        let throttled = |_: &[u8]| Err(ObjectError::Throttled);
        assert_eq!(chunker.write(b"e", throttled), Err(ObjectError::Throttled));
        assert_eq!(chunker.buffer, b"cd");
        let mut sent = Vec::new();
        assert_eq!(
            chunker.write(b"e", |chunk| {
                sent.push(chunk.to_vec());
                Ok(())
            }),
            Ok(1)
        );
        assert_eq!(sent, [b"cd".to_vec()]);
        assert_eq!(chunker.buffer, b"e");
    }
}
