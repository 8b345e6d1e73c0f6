use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ConnectorError, ErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::{DateTime, SdkBody};

use crate::store::{ObjectStore, StoreError};

use super::convert::{copy_source, rfc3339, size_of, unquote};
use super::errors::{classify, sdk_error};
use super::reader::total_of_content_range;
use super::{S3Settings, S3Store, StaticCredentials};

fn classified(status: u16, code: Option<&str>) -> StoreError {
    classify(Some(status), code, Some("the message"), "photos", "a.jpg")
}

#[test]
fn s3_answers_map_onto_store_errors() {
    let not_found = StoreError::not_found("photos", "a.jpg");
    assert_eq!(classified(404, Some("NoSuchKey")), not_found);
    assert_eq!(classified(404, None), not_found, "a HEAD's bare 404");
    assert_eq!(classified(404, Some("NotFound")), not_found);
    assert_eq!(
        classified(404, Some("NoSuchBucket")),
        StoreError::NoSuchBucket("photos".into())
    );
    assert_eq!(
        classified(403, Some("AccessDenied")),
        StoreError::AccessDenied("AccessDenied: the message (HTTP 403) on photos/a.jpg".into())
    );
    assert_eq!(
        classified(403, Some("SignatureDoesNotMatch")),
        StoreError::AccessDenied(
            "SignatureDoesNotMatch: the message (HTTP 403) on photos/a.jpg".into()
        )
    );
    assert_eq!(
        classify(Some(403), None, None, "photos", "a.jpg"),
        StoreError::AccessDenied("no error code (HTTP 403) on photos/a.jpg".into()),
        "what S3 answered, and to what, even with no body"
    );
    for (status, code) in [
        (503, Some("SlowDown")),
        (503, None),
        (400, Some("RequestLimitExceeded")),
        (429, None),
    ] {
        assert_eq!(
            classified(status, code),
            StoreError::Throttled,
            "{status} {code:?}"
        );
    }
    assert_eq!(
        classified(416, Some("InvalidRange")),
        StoreError::InvalidRange
    );
    assert_eq!(classified(416, None), StoreError::InvalidRange);
    assert_eq!(
        classified(400, Some("EntityTooLarge")),
        StoreError::TooLarge("EntityTooLarge: the message".into())
    );
    // A 404 whose code is not about objects is no missing object.
    assert_eq!(
        classified(404, Some("NoSuchUpload")),
        StoreError::Backend("NoSuchUpload: the message (HTTP 404) on photos/a.jpg".into())
    );
    assert_eq!(
        classified(500, Some("InternalError")),
        StoreError::Backend("InternalError: the message (HTTP 500) on photos/a.jpg".into())
    );
}

#[test]
fn sdk_errors_keep_their_status_code_and_target() {
    let service = SdkError::service_error(
        GetObjectError::generic(
            ErrorMetadata::builder()
                .code("NoSuchBucket")
                .message("The specified bucket does not exist")
                .build(),
        ),
        HttpResponse::new(404.try_into().expect("a status"), SdkBody::empty()),
    );
    assert_eq!(
        sdk_error(service, "photos", "a.jpg", "http://127.0.0.1:9"),
        StoreError::NoSuchBucket("photos".into())
    );
    let bare = SdkError::service_error(
        GetObjectError::generic(ErrorMetadata::builder().build()),
        HttpResponse::new(502.try_into().expect("a status"), SdkBody::empty()),
    );
    assert_eq!(
        sdk_error(bare, "photos", "a.jpg", "http://127.0.0.1:9"),
        StoreError::Backend("no error code (HTTP 502) on photos/a.jpg".into())
    );
    let refused = SdkError::<GetObjectError, HttpResponse>::dispatch_failure(ConnectorError::io(
        "connection refused".into(),
    ));
    let err = sdk_error(refused, "photos", "a.jpg", "http://127.0.0.1:9");
    assert!(
        matches!(&err, StoreError::Backend(why)
            if why.contains("cannot reach http://127.0.0.1:9") && why.contains("connection refused")),
        "{err:?}"
    );
}

#[test]
fn copy_sources_are_percent_encoded() {
    assert_eq!(
        copy_source("photos", "in/my photo+1 é.jpg"),
        "photos/in/my%20photo%2B1%20%C3%A9.jpg"
    );
    assert_eq!(copy_source("b", "a-b_c.d~e/f"), "b/a-b_c.d~e/f");
    assert_eq!(copy_source("b", "100%&?#="), "b/100%25%26%3F%23%3D");
}

#[test]
fn response_details_are_read() {
    assert_eq!(total_of_content_range("bytes 2-5/10"), Some(10));
    assert_eq!(total_of_content_range("bytes */10"), Some(10));
    assert_eq!(total_of_content_range("bytes 2-5/*"), None);
    assert_eq!(unquote("\"abc\""), "abc");
    assert_eq!(unquote("abc"), "abc");
    assert_eq!(size_of(Some(-1)), 0);
    let date = DateTime::from_secs(1_700_000_000);
    assert_eq!(rfc3339(&date).as_deref(), Some("2023-11-14T22:13:20Z"));
}

/// A store on a server of this machine's, with test credentials.
async fn store_on(port: u16) -> S3Store {
    S3Store::connect_with(S3Settings {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: Some("us-east-1".into()),
        credentials: Some(StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        }),
    })
    .await
    .expect("the store connects lazily")
}

/// A store aimed at a port where nothing listens: no request can succeed, and none
/// leaves the machine.
async fn unreachable_store() -> S3Store {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    store_on(port).await
}

#[tokio::test]
async fn a_server_that_is_not_there_is_named_in_the_error() {
    let store = unreachable_store().await;
    assert!(store.describe().starts_with("s3:http://127.0.0.1:"));
    let err = store.head("photos", "a.jpg").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend(why) if why.contains(&store.describe()[3..])),
        "{err:?}"
    );
}

/// A server that accepts connections and never answers: a call waits until it is
/// cancelled, and cancelling it is immediate.
#[tokio::test]
async fn a_call_to_a_stalled_server_is_cancelled_by_a_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let store = store_on(port).await;
    let started = std::time::Instant::now();
    let call = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        store.head("photos", "a.jpg"),
    )
    .await;
    assert!(call.is_err(), "the stalled call returned: {call:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    held.abort();
}
