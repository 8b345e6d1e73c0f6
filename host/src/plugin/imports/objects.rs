//! `s3plug:plugin/objects`: object access, checked against the plugin's grants before any
//! I/O, and counted against its limits.

use std::io::Read;

use wasmtime::component::Resource;

use crate::grant::Access;
use crate::plugin::PluginState;
use crate::plugin::bindings::objects::{Host, HostReader, HostWriter};
use crate::plugin::bindings::types::{Error, ListPage, ObjectInfo, PutOptions};
use crate::store::{self, ByteRange, ObjectWriter, StoreError};

/// The most one `reader.read` returns, whatever the guest asks for: the host allocates
/// the buffer, so the guest must not choose its size.
const MAX_READ_CHUNK: u32 = 1 << 20;

/// The largest body `put` takes; bigger objects go through `create`.
const MAX_PUT_BYTES: usize = 16 << 20;

/// The most objects one listing page returns, as S3.
const MAX_LIST_PAGE: u32 = 1000;

/// An object being read by a guest.
pub struct ReaderHandle {
    info: store::ObjectInfo,
    body: Box<dyn Read + Send>,
}

/// An object being written by a guest; dropped unfinished, the write is aborted.
pub struct WriterHandle {
    writer: Option<Box<dyn ObjectWriter>>,
}

impl PluginState {
    /// Checks one object access: a valid key, then the grants (the triggering object is
    /// always readable). A refusal is logged and counted, and becomes the guest's error.
    fn check(&mut self, op: &str, access: Access, bucket: &str, key: &str) -> Result<(), Error> {
        store::check_key(key).map_err(Error::InvalidKey)?;
        let is_trigger = bucket == self.trigger_bucket && key == self.trigger_key;
        if (access == Access::Read && is_trigger) || self.spec.grants.allows(access, bucket, key) {
            return Ok(());
        }
        Err(self.deny(op, access, bucket, key))
    }

    fn deny(&mut self, op: &str, access: Access, bucket: &str, key: &str) -> Error {
        let what = format!("{op} {bucket}/{key}");
        tracing::warn!(
            plugin = %self.spec.name,
            operation = op,
            bucket,
            key,
            "denied: plugin has no {access} grant for {bucket}/{key}"
        );
        self.usage.record_denial(what.clone());
        Error::Denied(format!(
            "{what}: plugin {:?} has no {access} grant for it",
            self.spec.name
        ))
    }

    /// Counts one mutation against `max_writes`.
    fn count_write(&mut self) -> Result<(), Error> {
        let max = self.spec.limits.max_writes;
        if self.usage.writes >= max {
            self.usage.record_limit(format!("max_writes ({max})"));
            return Err(Error::LimitExceeded(format!(
                "max_writes: at most {max} writes per record"
            )));
        }
        self.usage.writes += 1;
        Ok(())
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
        metadata: info.metadata,
    }
}

fn store_options(options: PutOptions) -> store::PutOptions {
    store::PutOptions {
        content_type: options.content_type,
        metadata: options.metadata,
    }
}

impl Host for PluginState {
    fn head(&mut self, bucket: String, key: String) -> wasmtime::Result<Result<ObjectInfo, Error>> {
        Ok((|| {
            self.check("head", Access::Read, &bucket, &key)?;
            self.store
                .head(&bucket, &key)
                .map(wit_info)
                .map_err(store_error)
        })())
    }

    fn get(
        &mut self,
        bucket: String,
        key: String,
        range: Option<(u64, u64)>,
    ) -> wasmtime::Result<Result<Resource<ReaderHandle>, Error>> {
        if let Err(err) = self.check("get", Access::Read, &bucket, &key) {
            return Ok(Err(err));
        }
        let range = range.map(|(first, last)| ByteRange { first, last });
        let object = match self.store.get(&bucket, &key, range) {
            Ok(object) => object,
            Err(err) => return Ok(Err(store_error(err))),
        };
        let handle = self.table.push(ReaderHandle {
            info: object.info,
            body: object.body,
        })?;
        Ok(Ok(handle))
    }

    fn put(
        &mut self,
        bucket: String,
        key: String,
        body: Vec<u8>,
        options: PutOptions,
    ) -> wasmtime::Result<Result<ObjectInfo, Error>> {
        Ok((|| {
            self.check("put", Access::Write, &bucket, &key)?;
            if body.len() > MAX_PUT_BYTES {
                return Err(Error::TooLarge);
            }
            self.count_write()?;
            let info = self
                .store
                .put(&bucket, &key, &body, &store_options(options))
                .map_err(store_error)?;
            self.usage.bytes_written += body.len() as u64;
            Ok(wit_info(info))
        })())
    }

    fn create(
        &mut self,
        bucket: String,
        key: String,
        options: PutOptions,
    ) -> wasmtime::Result<Result<Resource<WriterHandle>, Error>> {
        let writer = (|| {
            self.check("create", Access::Write, &bucket, &key)?;
            self.count_write()?;
            self.store
                .create(&bucket, &key, &store_options(options))
                .map_err(store_error)
        })();
        match writer {
            Ok(writer) => Ok(Ok(self.table.push(WriterHandle {
                writer: Some(writer),
            })?)),
            Err(err) => Ok(Err(err)),
        }
    }

    fn list_objects(
        &mut self,
        bucket: String,
        prefix: String,
        next: Option<String>,
        max: u32,
    ) -> wasmtime::Result<Result<ListPage, Error>> {
        if !self.spec.grants.allows_list(&bucket, &prefix) {
            return Ok(Err(self.deny(
                "list",
                Access::Read,
                &bucket,
                &format!("{prefix}*"),
            )));
        }
        let page = self.store.list(
            &bucket,
            &prefix,
            next.as_deref(),
            max.clamp(1, MAX_LIST_PAGE),
        );
        Ok(page.map_err(store_error).map(|page| ListPage {
            objects: page.objects.into_iter().map(wit_info).collect(),
            next: page.next,
        }))
    }

    fn copy(
        &mut self,
        from_bucket: String,
        from_key: String,
        to_bucket: String,
        to_key: String,
    ) -> wasmtime::Result<Result<ObjectInfo, Error>> {
        Ok((|| {
            self.check("copy from", Access::Read, &from_bucket, &from_key)?;
            self.check("copy to", Access::Write, &to_bucket, &to_key)?;
            self.count_write()?;
            let info = self
                .store
                .copy(&from_bucket, &from_key, &to_bucket, &to_key)
                .map_err(store_error)?;
            self.usage.bytes_written += info.size;
            Ok(wit_info(info))
        })())
    }

    fn delete(&mut self, bucket: String, key: String) -> wasmtime::Result<Result<(), Error>> {
        Ok((|| {
            self.check("delete", Access::Write, &bucket, &key)?;
            self.count_write()?;
            self.store.delete(&bucket, &key).map_err(store_error)
        })())
    }
}

impl HostReader for PluginState {
    fn read(
        &mut self,
        reader: Resource<ReaderHandle>,
        max: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, Error>> {
        let handle = self.table.get_mut(&reader)?;
        let want = max.min(MAX_READ_CHUNK) as usize;
        let mut buf = vec![0; want];
        let mut filled = 0;
        while filled < want {
            match handle.body.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => {
                    return Ok(Err(Error::Storage(format!(
                        "reading {}/{}: {err}",
                        handle.info.bucket, handle.info.key
                    ))));
                }
            }
        }
        buf.truncate(filled);
        self.usage.bytes_read += filled as u64;
        Ok(Ok(buf))
    }

    fn info(&mut self, reader: Resource<ReaderHandle>) -> wasmtime::Result<ObjectInfo> {
        Ok(wit_info(self.table.get(&reader)?.info.clone()))
    }

    fn drop(&mut self, reader: Resource<ReaderHandle>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        Ok(())
    }
}

impl HostWriter for PluginState {
    fn write(
        &mut self,
        writer: Resource<WriterHandle>,
        chunk: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let handle = self.table.get_mut(&writer)?;
        let Some(inner) = handle.writer.as_mut() else {
            return Ok(Err(Error::Other("the writer is already finished".into())));
        };
        let written = inner.write(&chunk).map_err(store_error);
        if written.is_ok() {
            self.usage.bytes_written += chunk.len() as u64;
        }
        Ok(written)
    }

    fn finish(
        &mut self,
        writer: Resource<WriterHandle>,
    ) -> wasmtime::Result<Result<ObjectInfo, Error>> {
        let handle = self.table.get_mut(&writer)?;
        let Some(inner) = handle.writer.take() else {
            return Ok(Err(Error::Other("the writer is already finished".into())));
        };
        Ok(inner.finish().map(wit_info).map_err(store_error))
    }

    fn drop(&mut self, writer: Resource<WriterHandle>) -> wasmtime::Result<()> {
        // Dropping an unfinished writer drops the store's writer, which aborts the upload.
        self.table.delete(writer)?;
        Ok(())
    }
}
