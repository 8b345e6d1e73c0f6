//! The S3 API of `s3plug dev`: `s3s-fs` over a folder, wrapped so that every write that
//! succeeds becomes a notice for the pipeline, as S3 sends an event notification.
//!
//! Writes that notify: `PutObject` (`ObjectCreated:Put`), `CopyObject` (`:Copy`),
//! `CompleteMultipartUpload` (`:CompleteMultipartUpload`), `DeleteObject` and each key of
//! `DeleteObjects` (`ObjectRemoved:Delete`). Every other operation `s3s-fs` serves passes
//! through unchanged. Keys with `.` or `..` segments or control characters are refused, so
//! that no request reaches outside its bucket's folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CommonPrefix,
    CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput,
    CopySource, CreateBucketInput, CreateBucketOutput, CreateMultipartUploadInput,
    CreateMultipartUploadOutput, DeleteBucketInput, DeleteBucketOutput, DeleteObjectInput,
    DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, ETag, EncodingType,
    GetBucketLocationInput, GetBucketLocationOutput, GetObjectInput, GetObjectOutput,
    HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListBucketsInput,
    ListBucketsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, ListPartsInput, ListPartsOutput, Object, PutObjectInput, PutObjectOutput,
    UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use tokio::sync::mpsc::UnboundedSender;

use crate::eventgen::{Happened, ObjectAction};

/// The S3 API over `root`, telling `notices` about each successful write.
pub(super) struct NotifyingStore {
    inner: s3s_fs::FileSystem,
    notifier: Arc<Notifier>,
}

impl std::fmt::Debug for NotifyingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyingStore")
            .field("root", &self.notifier.root)
            .finish_non_exhaustive()
    }
}

impl NotifyingStore {
    /// Serves the buckets under `root` (a folder per bucket), which must exist.
    pub(super) fn new(
        root: &Path,
        region: &str,
        notices: UnboundedSender<Happened>,
    ) -> anyhow::Result<Self> {
        let inner = s3s_fs::FileSystem::new(root)
            .map_err(|err| anyhow::anyhow!("cannot serve {}: {err:?}", root.display()))?;
        Ok(Self {
            inner,
            notifier: Arc::new(Notifier {
                root: root.canonicalize()?,
                notices,
                region: region.to_owned(),
                sequencer: Sequencer::default(),
            }),
        })
    }
}

/// Turns writes into notices. Shared, so that a notice may be sent from a future that
/// outlives its request.
struct Notifier {
    root: PathBuf,
    notices: UnboundedSender<Happened>,
    region: String,
    sequencer: Sequencer,
}

impl Notifier {
    fn notify(&self, action: ObjectAction, bucket: &str, key: &str, etag: Option<&ETag>) {
        let size = if action.removes() {
            0
        } else {
            std::fs::metadata(self.root.join(bucket).join(key)).map_or(0, |m| m.len())
        };
        let happened = Happened {
            action,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size,
            etag: etag.map(|e| e.value().to_owned()).unwrap_or_default(),
            sequencer: self.sequencer.next(),
            time: SystemTime::now(),
            region: self.region.clone(),
        };
        // The receiver goes away only when the endpoint shuts down.
        let _ = self.notices.send(happened);
    }
}

/// Sequencers for the notices: nanoseconds since the epoch, strictly increasing even when
/// the clock stands still or steps back.
#[derive(Debug, Default)]
struct Sequencer(AtomicU64);

impl Sequencer {
    fn next(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let mut last = self.0.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self
                .0
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }
}

/// Refuses a bucket or key that could name a path outside its bucket's folder. Folder
/// markers (keys that end in `/`) are allowed, as S3 allows them.
fn check_names(bucket: &str, key: &str) -> S3Result<()> {
    if bucket.is_empty() || bucket.contains('/') || bucket.starts_with('.') {
        return Err(s3_error!(InvalidBucketName, "bad bucket name {bucket:?}"));
    }
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    if let Err(why) = s3plug_host::store::check_key(trimmed) {
        return Err(s3_error!(InvalidArgument, "{why}"));
    }
    Ok(())
}

/// What S3 leaves as it is in a URL-encoded listing: RFC 3986's unreserved characters and
/// `/`; a space is `%20`, a `+` is `%2B`.
const LISTED_NAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

fn wants_url_encoding(encoding: Option<&EncodingType>) -> bool {
    encoding.is_some_and(|e| e.as_str() == EncodingType::URL)
}

fn url_encode(name: &mut Option<String>) {
    if let Some(name) = name {
        *name = percent_encoding::utf8_percent_encode(name, LISTED_NAME).to_string();
    }
}

/// Encodes the keys and common prefixes of a listing.
fn encode_listing(contents: &mut Option<Vec<Object>>, prefixes: &mut Option<Vec<CommonPrefix>>) {
    for object in contents.iter_mut().flatten() {
        url_encode(&mut object.key);
    }
    for prefix in prefixes.iter_mut().flatten() {
        url_encode(&mut prefix.prefix);
    }
}

/// Passes operations through to `s3s-fs` unchanged. Written out as `async_trait` expands a
/// trait method, because an attribute macro does not see methods made by another macro.
macro_rules! pass_through {
    ($($method:ident: $input:ty => $output:ty;)*) => {$(
        fn $method<'life0, 'async_trait>(
            &'life0 self,
            req: S3Request<$input>,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = S3Result<S3Response<$output>>> + Send + 'async_trait>,
        >
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            self.inner.$method(req)
        }
    )*};
}

#[async_trait::async_trait]
impl S3 for NotifyingStore {
    pass_through! {
        abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
        create_bucket: CreateBucketInput => CreateBucketOutput;
        delete_bucket: DeleteBucketInput => DeleteBucketOutput;
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput;
        head_bucket: HeadBucketInput => HeadBucketOutput;
        list_buckets: ListBucketsInput => ListBucketsOutput;
        list_parts: ListPartsInput => ListPartsOutput;
        upload_part: UploadPartInput => UploadPartOutput;
        upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput;
    }

    /// With `EncodingType=url` S3 percent-encodes the names in its answer, and clients
    /// decode them (`a+b` would come back as `a b`): encoded here as S3 does.
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let encode = wants_url_encoding(req.input.encoding_type.as_ref());
        let mut response = self.inner.list_objects(req).await?;
        if encode {
            let out = &mut response.output;
            for name in [
                &mut out.prefix,
                &mut out.delimiter,
                &mut out.marker,
                &mut out.next_marker,
            ] {
                url_encode(name);
            }
            encode_listing(&mut out.contents, &mut out.common_prefixes);
            out.encoding_type = Some(EncodingType::from_static(EncodingType::URL));
        }
        Ok(response)
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let encode = wants_url_encoding(req.input.encoding_type.as_ref());
        let mut response = self.inner.list_objects_v2(req).await?;
        if encode {
            let out = &mut response.output;
            for name in [&mut out.prefix, &mut out.delimiter, &mut out.start_after] {
                url_encode(name);
            }
            encode_listing(&mut out.contents, &mut out.common_prefixes);
            out.encoding_type = Some(EncodingType::from_static(EncodingType::URL));
        }
        Ok(response)
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        check_names(&req.input.bucket, &req.input.key)?;
        self.inner.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        check_names(&req.input.bucket, &req.input.key)?;
        self.inner.head_object(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        check_names(&req.input.bucket, &req.input.key)?;
        self.inner.create_multipart_upload(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        check_names(&bucket, &key)?;
        let response = self.inner.put_object(req).await?;
        self.notifier.notify(
            ObjectAction::Put,
            &bucket,
            &key,
            response.output.e_tag.as_ref(),
        );
        Ok(response)
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        check_names(&bucket, &key)?;
        if let CopySource::Bucket {
            bucket: from_bucket,
            key: from_key,
            ..
        } = &req.input.copy_source
        {
            check_names(from_bucket, from_key)?;
        }
        let response = self.inner.copy_object(req).await?;
        let etag = response
            .output
            .copy_object_result
            .as_ref()
            .and_then(|r| r.e_tag.as_ref());
        self.notifier
            .notify(ObjectAction::Copy, &bucket, &key, etag);
        Ok(response)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        check_names(&bucket, &key)?;
        let mut response = self.inner.complete_multipart_upload(req).await?;
        // The entity tag may come later, from the future that keeps the connection alive
        // while a large upload is assembled: the notice waits for it.
        match response.output.future.take() {
            Some(pending) => {
                let notifier = self.notifier.clone();
                response.output.future = Some(Box::pin(async move {
                    let output = pending.await?;
                    notifier.notify(
                        ObjectAction::Multipart,
                        &bucket,
                        &key,
                        output.e_tag.as_ref(),
                    );
                    Ok(output)
                }));
            }
            None => self.notifier.notify(
                ObjectAction::Multipart,
                &bucket,
                &key,
                response.output.e_tag.as_ref(),
            ),
        }
        Ok(response)
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        check_names(&bucket, &key)?;
        let response = self.inner.delete_object(req).await?;
        self.notifier
            .notify(ObjectAction::Delete, &bucket, &key, None);
        Ok(response)
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket.clone();
        for object in &req.input.delete.objects {
            check_names(&bucket, &object.key)?;
        }
        let response = self.inner.delete_objects(req).await?;
        for deleted in response.output.deleted.iter().flatten() {
            if let Some(key) = &deleted.key {
                self.notifier
                    .notify(ObjectAction::Delete, &bucket, key, None);
            }
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_a_bucket_folder_are_refused() {
        for (bucket, key) in [
            ("photos", "../other/x"),
            ("photos", "a/../../x"),
            ("photos", "a/./x"),
            ("photos", "/abs"),
            ("photos", "a\u{0}b"),
            ("..", "x"),
            ("a/b", "x"),
            ("", "x"),
        ] {
            assert!(check_names(bucket, key).is_err(), "{bucket:?} {key:?}");
        }
        for (bucket, key) in [
            ("photos", "in/my photo+1 ~*é.jpg"),
            ("photos", "folder/"),
            ("photos", "a..b"),
        ] {
            assert!(check_names(bucket, key).is_ok(), "{bucket:?} {key:?}");
        }
    }

    #[test]
    fn sequencers_strictly_increase_even_from_many_threads() {
        let sequencer = Arc::new(Sequencer::default());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let sequencer = sequencer.clone();
                std::thread::spawn(move || (0..1000).map(|_| sequencer.next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = Vec::new();
        for handle in handles {
            let taken = handle.join().unwrap();
            assert!(taken.windows(2).all(|w| w[0] < w[1]), "in order per thread");
            all.extend(taken);
        }
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "no sequencer handed out twice");
    }
}
