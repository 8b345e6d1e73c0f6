//! S3's errors as [`StoreError`]s: the code or HTTP status decides the kind, and the
//! message names what S3 answered, to what object, and where requests went.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::store::StoreError;

use super::S3Store;

impl S3Store {
    /// Where requests go, for messages.
    fn target(&self) -> &str {
        self.endpoint.as_deref().unwrap_or("AWS S3")
    }

    pub(super) fn error<E>(
        &self,
        err: SdkError<E, HttpResponse>,
        bucket: &str,
        key: &str,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        sdk_error(err, bucket, key, self.target())
    }
}

/// Maps an SDK error onto a [`StoreError`]; `target` names where requests went.
pub(super) fn sdk_error<E>(
    err: SdkError<E, HttpResponse>,
    bucket: &str,
    key: &str,
    target: &str,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            classify(status, err.code(), err.message(), bucket, key)
        }
        SdkError::DispatchFailure(_) => StoreError::Backend(format!(
            "cannot reach {target}: {}",
            DisplayErrorContext(&err)
        )),
        SdkError::TimeoutError(_) => StoreError::Backend(format!(
            "{target} did not answer in time: {}",
            DisplayErrorContext(&err)
        )),
        _ => StoreError::Backend(format!(
            "request to {target} failed: {}",
            DisplayErrorContext(&err)
        )),
    }
}

/// S3's error codes that mean "slow down".
const THROTTLING_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "BandwidthLimitExceeded",
];

/// Maps S3's answer (HTTP status, error code and message) onto a [`StoreError`]. The code
/// decides when there is one; a bare status (a `HEAD` has no body) decides otherwise.
pub(super) fn classify(
    status: Option<u16>,
    code: Option<&str>,
    message: Option<&str>,
    bucket: &str,
    key: &str,
) -> StoreError {
    let code = code.filter(|c| !c.is_empty());
    let message = message.filter(|m| !m.is_empty());
    let described = || match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        (None, Some(message)) => message.to_owned(),
        (None, None) => "no error code".to_owned(),
    };
    match (code, status) {
        (Some("NoSuchKey"), _) | (None | Some("NotFound"), Some(404)) => {
            StoreError::not_found(bucket, key)
        }
        (Some("NoSuchBucket"), _) => StoreError::NoSuchBucket(bucket.to_owned()),
        (Some("AccessDenied"), _) | (_, Some(403)) => {
            // Say what S3 answered, and to what: a bare 403 (a HEAD has no body) is a
            // missing permission as often as a refused one.
            let status = status.map_or_else(String::new, |s| format!(" (HTTP {s})"));
            StoreError::AccessDenied(format!("{}{status} on {bucket}/{key}", described()))
        }
        (Some(code), _) if THROTTLING_CODES.contains(&code) => StoreError::Throttled,
        (_, Some(429 | 503)) => StoreError::Throttled,
        (Some("InvalidRange"), _) | (_, Some(416)) => StoreError::InvalidRange,
        (Some("EntityTooLarge"), _) | (None, Some(413)) => StoreError::TooLarge(described()),
        (_, status) => {
            let status =
                status.map_or_else(|| "no HTTP status".to_owned(), |s| format!("HTTP {s}"));
            StoreError::Backend(format!("{} ({status}) on {bucket}/{key}", described()))
        }
    }
}
