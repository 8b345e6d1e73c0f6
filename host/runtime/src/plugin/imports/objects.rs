//! `s3plug:plugin/objects`: object access, checked against the plugin's grants and loop
//! guards before any I/O, and counted against its limits.

use tokio::io::{AsyncRead, AsyncReadExt};
use wasmtime::component::Resource;

use crate::bounded;
use crate::grant::Access;
use crate::guard;
use crate::observe::Observation;
use crate::plugin::PluginState;
use crate::plugin::bindings::objects::{Host, HostReader, HostWriter};
use crate::plugin::bindings::types::{Error, ListPage, ObjectInfo, PutOptions};
use crate::store::{self, ByteRange, ObjectWriter, StoreError};

/// The most one `reader.read` returns, whatever the guest asks for: the host allocates
/// the buffer, so the guest must not choose its size.
const MAX_READ_CHUNK: u32 = 1 << 20;

/// The largest body `put` takes; bigger objects go through `create`.
const MAX_PUT_BYTES: usize = 16 << 20;

/// Unfinished writers one call may hold at once, whatever `max_open` allows: each may
/// buffer a multipart part (8 MiB for S3) in host memory, so this bounds what one call pins
/// to 32 MiB. A plugin writes one or two objects at a time.
const MAX_OPEN_WRITERS: u32 = 4;

/// The most objects one listing page returns, as S3.
const MAX_LIST_PAGE: u32 = 1000;

/// An object being read by a guest.
pub struct ReaderHandle {
    info: store::ObjectInfo,
    body: Box<dyn AsyncRead + Send + Unpin>,
    /// The bytes the body should still hold, from the object's size (and the range): what a
    /// read allocates at most, plus one byte to see the end. Only a hint: a body that holds
    /// more is still read whole.
    expected: u64,
}

/// An object being written by a guest; dropped unfinished, the write is aborted.
pub struct WriterHandle {
    writer: Option<Box<dyn ObjectWriter>>,
}

/// The object operations, as they appear in denials and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Head,
    Get,
    Put,
    Create,
    List,
    CopyFrom,
    CopyTo,
    Delete,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Head => "head",
            Op::Get => "get",
            Op::Put => "put",
            Op::Create => "create",
            Op::List => "list",
            Op::CopyFrom => "copy from",
            Op::CopyTo => "copy to",
            Op::Delete => "delete",
        }
    }

    fn access(self) -> Access {
        match self {
            Op::Head | Op::Get | Op::List | Op::CopyFrom => Access::Read,
            Op::Put | Op::Create | Op::CopyTo | Op::Delete => Access::Write,
        }
    }

    /// The S3 events a write of this kind causes.
    fn events(self) -> &'static [&'static str] {
        match self {
            Op::Put => &["ObjectCreated:Put"],
            Op::Create => &["ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload"],
            Op::CopyTo => &["ObjectCreated:Copy"],
            Op::Delete => &["ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"],
            Op::Head | Op::Get | Op::List | Op::CopyFrom => &[],
        }
    }
}

impl PluginState {
    /// Checks one object access: the call budget, a valid key, the grants (the triggering
    /// object is always readable), and for writes that they would not trigger the plugin
    /// itself. A refusal is logged and counted, and becomes the guest's error.
    fn check(&mut self, op: Op, bucket: &str, key: &str) -> Result<(), Error> {
        self.count_call()?;
        store::check_key(key).map_err(Error::InvalidKey)?;
        let access = op.access();
        let is_trigger = bucket == self.trigger_bucket && key == self.trigger_key;
        let granted =
            (access == Access::Read && is_trigger) || self.spec.grants.allows(access, bucket, key);
        if !granted {
            return Err(self.deny(
                op,
                bucket,
                key,
                format!("plugin has no {access} grant for it"),
            ));
        }
        if self.spec.max_depth.is_none() && self.would_trigger_itself(op, bucket, key) {
            return Err(self.deny(
                op,
                bucket,
                key,
                "it would trigger this plugin again; set max_depth to allow bounded recursion"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    fn would_trigger_itself(&self, op: Op, bucket: &str, key: &str) -> bool {
        let trigger = &self.spec.trigger;
        bucket == trigger.bucket
            && key.starts_with(&trigger.prefix)
            && key.ends_with(&trigger.suffix)
            && op
                .events()
                .iter()
                .any(|event| trigger.events.iter().any(|p| p.matches(event)))
    }

    fn deny(&mut self, op: Op, bucket: &str, key: &str, why: String) -> Error {
        // The names are the guest's: quoted bounded, wherever they go.
        let (bucket, key) = (bounded::name(bucket), bounded::name(key));
        let what = format!("{} {bucket}/{key}", op.name());
        self.observe(&Observation::Denied {
            operation: op.name(),
            bucket,
            key,
            why: &why,
        });
        self.usage.record_denial(what.clone());
        Error::Denied(format!("{what}: {why} (plugin {:?})", self.spec.name))
    }

    /// Fails the call and the record with `limit-exceeded`, naming the limit.
    fn exceed(&mut self, limit: &str, max: impl std::fmt::Display, unit: &str) -> Error {
        self.usage.record_limit(format!("{limit} ({max})"));
        Error::LimitExceeded(format!("{limit}: at most {max}{unit} per record"))
    }

    /// Counts a reader or writer about to be opened against `max_open`: each may hold a
    /// file or a connection, which the other records of the event need too.
    fn count_open(&mut self) -> Result<(), Error> {
        let max = self.spec.limits.max_open;
        if self.open >= max {
            return Err(self.exceed("max_open", max, " open readers and writers"));
        }
        self.open += 1;
        Ok(())
    }

    fn count_call(&mut self) -> Result<(), Error> {
        let max = self.spec.limits.max_calls;
        if self.usage.calls >= max {
            return Err(self.exceed("max_calls", max, " object calls"));
        }
        self.usage.calls += 1;
        Ok(())
    }

    /// Counts one mutation against `max_writes`.
    fn count_write(&mut self) -> Result<(), Error> {
        let max = self.spec.limits.max_writes;
        if self.usage.writes >= max {
            return Err(self.exceed("max_writes", max, " writes"));
        }
        self.usage.writes += 1;
        Ok(())
    }

    /// Counts bytes about to be written against `max_write_bytes`.
    fn count_written(&mut self, bytes: u64) -> Result<(), Error> {
        let max = self.spec.limits.max_write_bytes;
        if self.usage.bytes_written.saturating_add(bytes) > max {
            return Err(self.exceed("max_write_bytes", max, " bytes written"));
        }
        self.usage.bytes_written += bytes;
        Ok(())
    }

    /// The options of a write, with the host's lineage stamp in the metadata, checked
    /// against what S3 stores (2 KiB of user metadata, header-safe names and values), and
    /// the metadata's size as S3 counts it, which the write counts as written bytes.
    fn stamped(&self, options: PutOptions) -> Result<(store::PutOptions, u64), Error> {
        let refused = |err: bounded::MetadataError| match err {
            bounded::MetadataError::TooLarge { .. } => Error::TooLarge,
            other => Error::Other(other.to_string()),
        };
        if let Some(content_type) = &options.content_type {
            bounded::check_content_type(content_type).map_err(refused)?;
        }
        // The guest's own metadata is checked before it is copied, then encoded as S3
        // takes it (and counted so: the encoded form is what S3 stores).
        bounded::check_metadata(&options.metadata).map_err(refused)?;
        let options = store::PutOptions {
            content_type: options.content_type,
            metadata: guard::stamped_metadata(
                &store::metadata::encode_all(&options.metadata),
                &self.lineage,
                &self.spec.name,
                &self.scope.request_id,
            ),
        };
        let bytes = bounded::check_metadata(&options.metadata).map_err(refused)?;
        Ok((options, bytes))
    }
}

fn store_error(err: StoreError) -> Error {
    match err {
        StoreError::NotFound { .. } | StoreError::NoSuchBucket(_) => Error::NotFound,
        StoreError::InvalidKey(why) => Error::InvalidKey(why),
        StoreError::InvalidRange => {
            Error::Other("the range starts past the end of the object".into())
        }
        StoreError::TooLarge(_) => Error::TooLarge,
        StoreError::AccessDenied(why) => Error::Denied(why),
        StoreError::Throttled => Error::Throttled,
        StoreError::Backend(why) => Error::Storage(why),
    }
}

fn wit_info(info: store::ObjectInfo) -> ObjectInfo {
    ObjectInfo {
        bucket: info.bucket,
        key: info.key,
        size: info.size,
        etag: info.etag,
        content_type: info.content_type,
        last_modified: info.last_modified,
        metadata: store::metadata::decode_all(info.metadata),
    }
}

impl Host for PluginState {
    async fn head(
        &mut self,
        bucket: String,
        key: String,
    ) -> wasmtime::Result<Result<ObjectInfo, Error>> {
        if let Err(err) = self.check(Op::Head, &bucket, &key) {
            return Ok(Err(err));
        }
        Ok(self
            .store
            .head(&bucket, &key)
            .await
            .map(wit_info)
            .map_err(store_error))
    }

    async fn get(
        &mut self,
        bucket: String,
        key: String,
        range: Option<(u64, u64)>,
    ) -> wasmtime::Result<Result<Resource<ReaderHandle>, Error>> {
        if let Err(err) = self
            .check(Op::Get, &bucket, &key)
            .and_then(|()| self.count_open())
        {
            return Ok(Err(err));
        }
        let range = range.map(|(first, last)| ByteRange { first, last });
        let object = match self.store.get(&bucket, &key, range).await {
            Ok(object) => object,
            Err(err) => {
                self.open -= 1;
                return Ok(Err(store_error(err)));
            }
        };
        let size = object.info.size;
        let expected = match range {
            Some(range) => range.clamp(size).map_or(0, |(_, len)| len),
            None => size,
        };
        let handle = self.table.push(ReaderHandle {
            info: object.info,
            body: object.body,
            expected,
        })?;
        Ok(Ok(handle))
    }

    async fn put(
        &mut self,
        bucket: String,
        key: String,
        body: Vec<u8>,
        options: PutOptions,
    ) -> wasmtime::Result<Result<ObjectInfo, Error>> {
        let checked = self.check(Op::Put, &bucket, &key).and_then(|()| {
            if body.len() > MAX_PUT_BYTES {
                return Err(Error::TooLarge);
            }
            let (options, metadata) = self.stamped(options)?;
            self.count_write()?;
            self.count_written(body.len() as u64 + metadata)?;
            Ok(options)
        });
        let options = match checked {
            Ok(options) => options,
            Err(err) => return Ok(Err(err)),
        };
        let put = self.store.put(&bucket, &key, &body, &options).await;
        Ok(self.wrote("put", put))
    }

    async fn create(
        &mut self,
        bucket: String,
        key: String,
        options: PutOptions,
    ) -> wasmtime::Result<Result<Resource<WriterHandle>, Error>> {
        let checked = self.check(Op::Create, &bucket, &key).and_then(|()| {
            let (options, metadata) = self.stamped(options)?;
            if self.open_writers >= MAX_OPEN_WRITERS {
                return Err(self.exceed(
                    "max_open",
                    format!("{MAX_OPEN_WRITERS} writers"),
                    " unfinished at once",
                ));
            }
            self.count_write()?;
            self.count_written(metadata)?;
            self.count_open()?;
            self.open_writers += 1;
            Ok(options)
        });
        let options = match checked {
            Ok(options) => options,
            Err(err) => return Ok(Err(err)),
        };
        match self.store.create(&bucket, &key, &options).await {
            Ok(writer) => Ok(Ok(self.table.push(WriterHandle {
                writer: Some(writer),
            })?)),
            Err(err) => {
                self.open -= 1;
                self.open_writers -= 1;
                Ok(Err(store_error(err)))
            }
        }
    }

    async fn list_objects(
        &mut self,
        bucket: String,
        prefix: String,
        next: Option<String>,
        max: u32,
    ) -> wasmtime::Result<Result<ListPage, Error>> {
        if let Err(err) = self.count_call() {
            return Ok(Err(err));
        }
        if !self.spec.grants.allows_list(&bucket, &prefix) {
            let why = "plugin has no read grant covering this prefix".to_owned();
            return Ok(Err(self.deny(
                Op::List,
                &bucket,
                &format!("{}*", bounded::name(&prefix)),
                why,
            )));
        }
        let page = self
            .store
            .list(
                &bucket,
                &prefix,
                next.as_deref(),
                max.clamp(1, MAX_LIST_PAGE),
            )
            .await;
        Ok(page.map_err(store_error).map(|page| ListPage {
            objects: page.objects.into_iter().map(wit_info).collect(),
            next: page.next,
        }))
    }

    async fn copy(
        &mut self,
        from_bucket: String,
        from_key: String,
        to_bucket: String,
        to_key: String,
    ) -> wasmtime::Result<Result<ObjectInfo, Error>> {
        let checked = self
            .check(Op::CopyFrom, &from_bucket, &from_key)
            .and_then(|()| self.check(Op::CopyTo, &to_bucket, &to_key))
            .and_then(|()| self.count_write());
        if let Err(err) = checked {
            return Ok(Err(err));
        }
        let source = match self.store.head(&from_bucket, &from_key).await {
            Ok(source) => source,
            Err(err) => return Ok(Err(store_error(err))),
        };
        // The copy carries the source's content type and user metadata, with the host's
        // lineage stamp in place of the source's.
        let stamped = self
            .stamped(PutOptions {
                content_type: source.content_type,
                metadata: store::metadata::decode_all(source.metadata),
            })
            .and_then(|(options, metadata)| {
                self.count_written(source.size + metadata)?;
                Ok(options)
            });
        let options = match stamped {
            Ok(options) => options,
            Err(err) => return Ok(Err(err)),
        };
        let copied = self
            .store
            .copy(&from_bucket, &from_key, &to_bucket, &to_key, Some(&options))
            .await;
        Ok(self.wrote("copy", copied))
    }

    async fn delete(&mut self, bucket: String, key: String) -> wasmtime::Result<Result<(), Error>> {
        let checked = self
            .check(Op::Delete, &bucket, &key)
            .and_then(|()| self.count_write());
        if let Err(err) = checked {
            return Ok(Err(err));
        }
        // On a write cycle through a delete, the deleted object's depth is kept first: a
        // delete whose depth could not be kept is not made, or the loop guard would lose it.
        if let Some(tombstones) = &self.tombstones {
            let kept = tombstones
                .bury(
                    &bucket,
                    &key,
                    &self.lineage,
                    &self.spec.name,
                    &self.scope.request_id,
                )
                .await;
            if let Err(err) = kept {
                tracing::warn!(plugin = %self.spec.name, bucket = %bounded::name(&bucket), key = %bounded::name(&key), "cannot keep the tombstone of a delete: {err}");
                return Ok(Err(Error::Storage(format!(
                    "the delete was not made: the host cannot keep its loop-guard tombstone ({err})"
                ))));
            }
        }
        let deleted = self.store.delete(&bucket, &key).await;
        if deleted.is_ok() {
            self.observe(&Observation::Wrote {
                operation: "delete",
                bucket: bounded::name(&bucket),
                key: bounded::name(&key),
                bytes: 0,
            });
        }
        Ok(deleted.map_err(store_error))
    }
}

impl PluginState {
    /// The WIT answer to a write, observed when it was made.
    fn wrote(
        &self,
        operation: &'static str,
        written: Result<store::ObjectInfo, StoreError>,
    ) -> Result<ObjectInfo, Error> {
        let info = written.map_err(store_error)?;
        self.observe(&Observation::Wrote {
            operation,
            bucket: bounded::name(&info.bucket),
            key: bounded::name(&info.key),
            bytes: info.size,
        });
        Ok(wit_info(info))
    }
}

/// Reads `want` bytes, or fewer at the end of the body. The buffer starts at `expected` + 1
/// bytes when that is smaller (zeroing a whole chunk for a few bytes would cost more than
/// reading them: the one byte more sees the end) and grows to `want` when the body holds
/// more than expected.
async fn read_up_to(
    body: &mut (dyn AsyncRead + Send + Unpin),
    want: usize,
    expected: u64,
) -> std::io::Result<Vec<u8>> {
    let hint = usize::try_from(expected.saturating_add(1)).unwrap_or(usize::MAX);
    let mut buf = vec![0; want.min(hint)];
    let mut filled = 0;
    while filled < want {
        if filled == buf.len() {
            buf.resize(want, 0);
        }
        match body.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

impl HostReader for PluginState {
    async fn read(
        &mut self,
        reader: Resource<ReaderHandle>,
        max: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, Error>> {
        let budget = self
            .spec
            .limits
            .max_read_bytes
            .saturating_sub(self.usage.bytes_read);
        let handle = self.table.get_mut(&reader)?;
        let want = u64::from(max.min(MAX_READ_CHUNK)).min(budget.saturating_add(1)) as usize;
        let buf = match read_up_to(&mut handle.body, want, handle.expected).await {
            Ok(buf) => buf,
            Err(err) => {
                let (bucket, key) = (&handle.info.bucket, &handle.info.key);
                return Ok(Err(Error::Storage(format!(
                    "reading {bucket}/{key}: {err}"
                ))));
            }
        };
        let filled = buf.len();
        handle.expected = handle.expected.saturating_sub(filled as u64);
        if filled as u64 > budget {
            let max = self.spec.limits.max_read_bytes;
            return Ok(Err(self.exceed("max_read_bytes", max, " bytes read")));
        }
        self.usage.bytes_read += filled as u64;
        Ok(Ok(buf))
    }

    async fn info(&mut self, reader: Resource<ReaderHandle>) -> wasmtime::Result<ObjectInfo> {
        Ok(wit_info(self.table.get(&reader)?.info.clone()))
    }

    async fn drop(&mut self, reader: Resource<ReaderHandle>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        self.open = self.open.saturating_sub(1);
        Ok(())
    }
}

impl HostWriter for PluginState {
    async fn write(
        &mut self,
        writer: Resource<WriterHandle>,
        chunk: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        if self.table.get(&writer)?.writer.is_none() {
            return Ok(Err(Error::Other("the writer is already finished".into())));
        }
        if let Err(err) = self.count_written(chunk.len() as u64) {
            return Ok(Err(err));
        }
        let handle = self.table.get_mut(&writer)?;
        let Some(inner) = handle.writer.as_mut() else {
            return Ok(Err(Error::Other("the writer is already finished".into())));
        };
        Ok(inner.write(&chunk).await.map_err(store_error))
    }

    async fn finish(
        &mut self,
        writer: Resource<WriterHandle>,
    ) -> wasmtime::Result<Result<ObjectInfo, Error>> {
        let handle = self.table.get_mut(&writer)?;
        let Some(inner) = handle.writer.take() else {
            return Ok(Err(Error::Other("the writer is already finished".into())));
        };
        self.open_writers = self.open_writers.saturating_sub(1);
        let finished = inner.finish().await;
        Ok(self.wrote("create", finished))
    }

    async fn drop(&mut self, writer: Resource<WriterHandle>) -> wasmtime::Result<()> {
        // An unfinished writer is aborted before the guest goes on, so that nothing of it
        // is left (a writer dropped with the whole store aborts in the background).
        if let Some(unfinished) = self.table.delete(writer)?.writer {
            self.open_writers = self.open_writers.saturating_sub(1);
            unfinished.abort().await;
        }
        self.open = self.open.saturating_sub(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    /// A body that hands out at most `step` bytes per read, as a network stream does.
    struct Trickle<'a> {
        rest: &'a [u8],
        step: usize,
    }

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let n = buf.remaining().min(self.step).min(self.rest.len());
            buf.put_slice(&self.rest[..n]);
            self.rest = &self.rest[n..];
            Poll::Ready(Ok(()))
        }
    }

    fn state(limits: &str) -> PluginState {
        let store = store::MemoryStore::new();
        store
            .put("inbox", "a.bin", b"abc", &store::PutOptions::default())
            .unwrap();
        PluginState::for_tests(
            &format!(
                "[[plugin]]\nname = \"p\"\nwasm = \"p.wasm\"\ntrigger = {{ bucket = \"inbox\" }}\n\
                 write = [\"outbox/\"]\nlimits = {{ {limits} }}\n"
            ),
            std::sync::Arc::new(store),
        )
    }

    #[tokio::test]
    async fn open_readers_are_bounded_by_max_open_and_freed_when_dropped() {
        let mut state = state("max_open = 3");
        let mut readers = Vec::new();
        for _ in 0..3 {
            let get = Host::get(&mut state, "inbox".into(), "a.bin".into(), None).await;
            readers.push(get.unwrap().unwrap());
        }
        let fourth = Host::get(&mut state, "inbox".into(), "a.bin".into(), None).await;
        assert!(
            matches!(fourth.unwrap(), Err(Error::LimitExceeded(ref why)) if why.contains("max_open")),
        );
        assert_eq!(state.usage.limit_hit.as_deref(), Some("max_open (3)"));
        HostReader::drop(&mut state, readers.pop().unwrap())
            .await
            .unwrap();
        let again = Host::get(&mut state, "inbox".into(), "a.bin".into(), None).await;
        assert!(again.unwrap().is_ok(), "a dropped reader frees its place");
    }

    #[tokio::test]
    async fn unfinished_writers_are_bounded_whatever_max_open_allows() {
        let mut state = state("max_open = 100, max_writes = 100");
        let options = || PutOptions {
            content_type: None,
            metadata: Vec::new(),
        };
        let mut writers = Vec::new();
        for i in 0..MAX_OPEN_WRITERS {
            let create =
                Host::create(&mut state, "outbox".into(), format!("w{i}"), options()).await;
            writers.push(create.unwrap().unwrap());
        }
        let past = Host::create(&mut state, "outbox".into(), "past".into(), options()).await;
        assert!(matches!(past.unwrap(), Err(Error::LimitExceeded(_))));
        let finished = HostWriter::finish(&mut state, writers.pop().unwrap()).await;
        assert!(finished.unwrap().is_ok());
        let again = Host::create(&mut state, "outbox".into(), "again".into(), options()).await;
        assert!(again.unwrap().is_ok(), "a finished writer frees its place");
    }

    #[tokio::test]
    async fn reads_are_full_and_whole_whatever_size_was_expected() {
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        // Expected sizes below, at and above the real one: a store may say less than the
        // body holds (an object that grew), and a range is shorter than the object.
        for expected in [0, 1, 100, 9_999, 10_000, 50_000] {
            for want in [1, 7, 4096, 256 << 10] {
                for step in [3, 1 << 20] {
                    let mut trickle = Trickle { rest: &body, step };
                    let mut left = expected;
                    let mut reads = Vec::new();
                    loop {
                        let read = read_up_to(&mut trickle, want, left).await.unwrap();
                        if read.is_empty() {
                            break;
                        }
                        left = left.saturating_sub(read.len() as u64);
                        reads.push(read);
                    }
                    let case = format!("expected {expected}, want {want}, step {step}");
                    assert_eq!(reads.concat(), body, "{case}");
                    let (_, full) = reads.split_last().unwrap();
                    assert!(
                        full.iter().all(|read| read.len() == want),
                        "{case}: short reads {:?}",
                        reads.iter().map(Vec::len).collect::<Vec<_>>()
                    );
                }
            }
        }
    }
}
