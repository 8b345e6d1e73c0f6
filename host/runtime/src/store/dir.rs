//! Objects in a local folder: `<root>/<bucket>/<key>`, so that a person can look at what
//! plugins read and wrote.
//!
//! Content type and user metadata live beside each object in `<key>.s3meta.json`; keys that
//! end that way are refused, and listings hide those files. Writes go to a temporary file
//! under `<root>/.s3plug-tmp/` and are renamed into place when complete, so a reader never
//! sees half an object. Symbolic links inside the root are never followed.

use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use super::{
    ByteRange, ListPage, ObjectBody, ObjectInfo, ObjectStore, ObjectWriter, PutOptions, StoreError,
    check_key, etag_from_digest, etag_of, normalise_metadata,
};
use crate::grant::valid_bucket_name;

const META_SUFFIX: &str = ".s3meta.json";
const TMP_DIR: &str = ".s3plug-tmp";

/// A local folder as a set of buckets. Buckets are folders, created with their first object.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: Arc<Path>,
    next_tmp: Arc<AtomicU64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Sidecar {
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    metadata: Vec<(String, String)>,
}

impl DirStore {
    /// A store over `root`, which is created if it does not exist.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root: PathBuf = root.into();
        fs::create_dir_all(&root)?;
        Ok(Self {
            root: root.into(),
            next_tmp: Arc::default(),
        })
    }

    /// The folder of a bucket; the bucket name is checked so it cannot name anything else.
    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, StoreError> {
        if !valid_bucket_name(bucket) {
            return Err(StoreError::InvalidKey(format!(
                "{bucket:?} is not a valid bucket name"
            )));
        }
        let dir = self.root.join(bucket);
        refuse_symlink(&dir, bucket)?;
        Ok(dir)
    }

    fn existing_bucket(&self, bucket: &str) -> Result<PathBuf, StoreError> {
        let dir = self.bucket_dir(bucket)?;
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(StoreError::NoSuchBucket(bucket.to_owned()))
        }
    }

    /// The path of an object. Every component that exists is checked not to be a symbolic
    /// link, so a link planted inside the root cannot lead a key outside it.
    fn object_path(&self, bucket: &str, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key).map_err(StoreError::InvalidKey)?;
        if key.ends_with(META_SUFFIX) {
            return Err(StoreError::InvalidKey(format!(
                "keys ending in {META_SUFFIX:?} are reserved by the dir store"
            )));
        }
        let mut path = self.bucket_dir(bucket)?;
        for segment in key.split('/') {
            path.push(segment);
            refuse_symlink(&path, key)?;
        }
        Ok(path)
    }

    fn info(&self, bucket: &str, key: &str, path: &Path) -> Result<ObjectInfo, StoreError> {
        let meta = fs::metadata(path).map_err(|err| io_error(err, bucket, key))?;
        if !meta.is_file() {
            return Err(StoreError::not_found(bucket, key));
        }
        let sidecar = read_sidecar(path);
        let modified = meta
            .modified()
            .ok()
            .map(chrono::DateTime::<chrono::Utc>::from);
        let etag = sidecar.etag.or_else(|| {
            // An object put in the folder by hand has no recorded tag: derive one from its
            // size and modification time, which changes whenever the file does.
            let nanos = modified
                .and_then(|m| m.timestamp_nanos_opt())
                .unwrap_or_default();
            Some(format!("{:016x}{:016x}", meta.len(), nanos))
        });
        Ok(ObjectInfo {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: meta.len(),
            etag,
            content_type: sidecar.content_type,
            last_modified: modified.map(|m| m.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            metadata: sidecar.metadata,
        })
    }

    fn temp_file(&self) -> Result<(PathBuf, File), StoreError> {
        let dir = self.root.join(TMP_DIR);
        fs::create_dir_all(&dir)
            .map_err(|err| StoreError::Backend(format!("cannot create {dir:?}: {err}")))?;
        let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{}-{n}", std::process::id()));
        let file = File::create(&path)
            .map_err(|err| StoreError::Backend(format!("cannot create {path:?}: {err}")))?;
        Ok((path, file))
    }

    /// Moves a complete temporary file into place, with its sidecar.
    fn commit(
        &self,
        bucket: &str,
        key: &str,
        tmp: &Path,
        etag: String,
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        let path = self.object_path(bucket, key)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|err| {
                StoreError::InvalidKey(format!(
                    "cannot store {bucket}/{key}: a prefix of it is an object ({err})"
                ))
            })?;
        }
        let sidecar = Sidecar {
            etag: Some(etag),
            content_type: options.content_type.clone(),
            metadata: normalise_metadata(&options.metadata),
        };
        let sidecar_path = sidecar_path(&path);
        let json =
            serde_json::to_vec(&sidecar).map_err(|err| StoreError::Backend(err.to_string()))?;
        fs::write(&sidecar_path, json).map_err(|err| io_error(err, bucket, key))?;
        fs::rename(tmp, &path).map_err(|err| {
            let _ = fs::remove_file(&sidecar_path);
            StoreError::InvalidKey(format!("cannot store {bucket}/{key}: {err}"))
        })?;
        self.info(bucket, key, &path)
    }

    fn walk(
        &self,
        dir: &Path,
        key_prefix: &str,
        wanted: &str,
        keys: &mut Vec<String>,
    ) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let key = format!("{key_prefix}{name}");
            let kind = entry.file_type()?;
            if kind.is_dir() {
                let sub = format!("{key}/");
                // Descend only where keys can still start with the wanted prefix.
                if sub.starts_with(wanted) || wanted.starts_with(&sub) {
                    self.walk(&entry.path(), &sub, wanted, keys)?;
                }
            } else if kind.is_file() && !name.ends_with(META_SUFFIX) && key.starts_with(wanted) {
                keys.push(key);
            }
        }
        Ok(())
    }
}

fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(META_SUFFIX);
    path.with_file_name(name)
}

fn read_sidecar(path: &Path) -> Sidecar {
    fs::read(sidecar_path(path))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn refuse_symlink(path: &Path, what: &str) -> Result<(), StoreError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(StoreError::InvalidKey(format!(
            "{what:?} leads through a symbolic link, which is never followed"
        ))),
        _ => Ok(()),
    }
}

fn io_error(err: io::Error, bucket: &str, key: &str) -> StoreError {
    match err.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
            StoreError::not_found(bucket, key)
        }
        _ => StoreError::Backend(format!("{bucket}/{key}: {err}")),
    }
}

#[async_trait]
impl ObjectStore for DirStore {
    fn describe(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        self.existing_bucket(bucket)?;
        let path = self.object_path(bucket, key)?;
        self.info(bucket, key, &path)
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, StoreError> {
        let info = self.head(bucket, key).await?;
        let path = self.object_path(bucket, key)?;
        let mut file = File::open(&path).map_err(|err| io_error(err, bucket, key))?;
        let (start, len) = match range {
            Some(range) => range.clamp(info.size).ok_or(StoreError::InvalidRange)?,
            None => (0, info.size),
        };
        file.seek(SeekFrom::Start(start))
            .map_err(|err| io_error(err, bucket, key))?;
        Ok(ObjectBody {
            info,
            body: Box::new(tokio::fs::File::from_std(file).take(len)),
        })
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        self.object_path(bucket, key)?;
        let (tmp, mut file) = self.temp_file()?;
        let written = file.write_all(body).and_then(|()| file.sync_data());
        drop(file);
        let result = written
            .map_err(|err| io_error(err, bucket, key))
            .and_then(|()| self.commit(bucket, key, &tmp, etag_of(body), options));
        let _ = fs::remove_file(&tmp);
        result
    }

    async fn create(
        &self,
        bucket: &str,
        key: &str,
        options: &PutOptions,
    ) -> Result<Box<dyn ObjectWriter>, StoreError> {
        self.object_path(bucket, key)?;
        let (tmp, file) = self.temp_file()?;
        Ok(Box::new(DirWriter {
            store: self.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            options: options.clone(),
            tmp,
            file: Some(file),
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
        }))
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        next: Option<&str>,
        max: u32,
    ) -> Result<ListPage, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let mut keys = Vec::new();
        self.walk(&dir, "", prefix, &mut keys)
            .map_err(|err| StoreError::Backend(format!("listing {bucket}: {err}")))?;
        keys.sort_unstable();
        let start = next.map_or(0, |after| keys.partition_point(|k| k.as_str() <= after));
        let mut page = ListPage::default();
        for key in keys.iter().skip(start).take(max as usize) {
            let path = self.object_path(bucket, key)?;
            page.objects.push(self.info(bucket, key, &path)?);
        }
        if start + page.objects.len() < keys.len() {
            page.next = page.objects.last().map(|o| o.key.clone());
        }
        Ok(page)
    }

    async fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
        replace: Option<&PutOptions>,
    ) -> Result<ObjectInfo, StoreError> {
        let source = self.get(from_bucket, from_key, None).await?;
        let options = replace.cloned().unwrap_or(PutOptions {
            content_type: source.info.content_type.clone(),
            metadata: source.info.metadata,
        });
        let mut writer = self.create(to_bucket, to_key, &options).await?;
        let mut body = source.body;
        let mut buf = vec![0; 256 << 10];
        loop {
            let n = body
                .read(&mut buf)
                .await
                .map_err(|err| io_error(err, from_bucket, from_key))?;
            if n == 0 {
                break;
            }
            writer.write(&buf[..n]).await?;
        }
        writer.finish().await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.existing_bucket(bucket)?;
        let path = self.object_path(bucket, key)?;
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => {
                fs::remove_file(&path).map_err(|err| io_error(err, bucket, key))?;
                let _ = fs::remove_file(sidecar_path(&path));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

struct DirWriter {
    store: DirStore,
    bucket: String,
    key: String,
    options: PutOptions,
    tmp: PathBuf,
    file: Option<File>,
    hasher: sha2::Sha256,
}

#[async_trait]
impl ObjectWriter for DirWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| StoreError::Backend("write after finish".into()))?;
        file.write_all(chunk)
            .map_err(|err| io_error(err, &self.bucket, &self.key))?;
        sha2::Digest::update(&mut self.hasher, chunk);
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<ObjectInfo, StoreError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| StoreError::Backend("finish called twice".into()))?;
        file.sync_data()
            .map_err(|err| io_error(err, &self.bucket, &self.key))?;
        drop(file);
        let etag = etag_from_digest(&sha2::Digest::finalize(self.hasher.clone()));
        self.store
            .commit(&self.bucket, &self.key, &self.tmp, etag, &self.options)
    }
}

impl Drop for DirWriter {
    fn drop(&mut self) {
        // Finished or not, the temporary file goes: committed files were renamed away.
        let _ = fs::remove_file(&self.tmp);
    }
}
