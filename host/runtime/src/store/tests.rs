//! The same behaviour from every backend.

use tokio::io::AsyncReadExt;

use super::*;

fn backends() -> Vec<(Box<dyn ObjectStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::new(dir.path()).unwrap();
    vec![
        (Box::new(MemoryStore::new()), None),
        (Box::new(store), Some(dir)),
    ]
}

async fn read_all(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    range: Option<ByteRange>,
) -> Vec<u8> {
    let mut out = Vec::new();
    store
        .get(bucket, key, range)
        .await
        .unwrap()
        .body
        .read_to_end(&mut out)
        .await
        .unwrap();
    out
}

#[tokio::test]
async fn put_head_get_and_ranges() {
    for (store, _dir) in backends() {
        let options = PutOptions {
            content_type: Some("text/plain".into()),
            metadata: vec![("Origin".into(), "test".into())],
        };
        let info = store
            .put("photos", "in/a b.txt", b"0123456789", &options)
            .await
            .unwrap();
        assert_eq!(info.size, 10);
        let head = store.head("photos", "in/a b.txt").await.unwrap();
        assert_eq!(head.content_type.as_deref(), Some("text/plain"));
        assert_eq!(
            head.metadata,
            vec![("origin".to_owned(), "test".to_owned())]
        );
        assert_eq!(head.etag, info.etag);
        assert_eq!(
            read_all(&*store, "photos", "in/a b.txt", None).await,
            b"0123456789"
        );
        let range = |first, last| Some(ByteRange { first, last });
        assert_eq!(
            read_all(&*store, "photos", "in/a b.txt", range(2, 5)).await,
            b"2345"
        );
        assert_eq!(
            read_all(&*store, "photos", "in/a b.txt", range(8, 100)).await,
            b"89"
        );
        assert_eq!(
            store
                .get("photos", "in/a b.txt", range(10, 12))
                .await
                .unwrap_err(),
            StoreError::InvalidRange
        );
        assert!(
            matches!(
                store.head("photos", "nope").await,
                Err(StoreError::NotFound { .. })
            ),
            "{}",
            store.describe()
        );
        assert!(
            matches!(
                store.head("nobucket", "x").await,
                Err(StoreError::NoSuchBucket(_))
            ),
            "{}",
            store.describe()
        );
    }
}

#[tokio::test]
async fn streaming_writes_appear_only_when_finished() {
    for (store, _dir) in backends() {
        let mut writer = store
            .create("photos", "big.bin", &PutOptions::default())
            .await
            .unwrap();
        writer.write(b"hello ").await.unwrap();
        writer.write(b"world").await.unwrap();
        assert!(
            store.head("photos", "big.bin").await.is_err(),
            "{}: visible before finish",
            store.describe()
        );
        let info = writer.finish().await.unwrap();
        assert_eq!(info.size, 11);
        assert_eq!(
            read_all(&*store, "photos", "big.bin", None).await,
            b"hello world"
        );

        let mut aborted = store
            .create("photos", "aborted.bin", &PutOptions::default())
            .await
            .unwrap();
        aborted.write(b"partial").await.unwrap();
        drop(aborted);
        assert!(
            store.head("photos", "aborted.bin").await.is_err(),
            "{}: an aborted write left an object",
            store.describe()
        );
    }
}

#[tokio::test]
async fn listing_pages_copy_and_delete() {
    for (store, _dir) in backends() {
        for key in ["a/1", "a/2", "a/3", "b/1", "a0"] {
            store
                .put("photos", key, key.as_bytes(), &PutOptions::default())
                .await
                .unwrap();
        }
        let page = store.list("photos", "a/", None, 2).await.unwrap();
        let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a/1", "a/2"], "{}", store.describe());
        let rest = store
            .list("photos", "a/", page.next.as_deref(), 2)
            .await
            .unwrap();
        let keys: Vec<_> = rest.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a/3"], "{}", store.describe());
        assert_eq!(rest.next, None);

        store
            .put(
                "photos",
                "meta.txt",
                b"m",
                &PutOptions {
                    content_type: Some("x/y".into()),
                    metadata: vec![("k".into(), "v".into())],
                },
            )
            .await
            .unwrap();
        let copied = store
            .copy("photos", "meta.txt", "other", "copy.txt", None)
            .await
            .unwrap();
        assert_eq!(copied.content_type.as_deref(), Some("x/y"));
        assert_eq!(copied.metadata, vec![("k".to_owned(), "v".to_owned())]);
        let replaced = PutOptions {
            content_type: Some("a/b".into()),
            metadata: vec![("n".into(), "1".into())],
        };
        let copied = store
            .copy("photos", "meta.txt", "other", "copy2.txt", Some(&replaced))
            .await
            .unwrap();
        assert_eq!(copied.content_type.as_deref(), Some("a/b"));
        assert_eq!(copied.metadata, vec![("n".to_owned(), "1".to_owned())]);
        assert_eq!(read_all(&*store, "other", "copy2.txt", None).await, b"m");

        store.delete("photos", "a/1").await.unwrap();
        store.delete("photos", "a/1").await.unwrap();
        assert!(store.head("photos", "a/1").await.is_err());
    }
}

#[tokio::test]
async fn keys_that_mean_different_things_on_disk_and_on_s3_are_refused() {
    for key in [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/./b",
        "a//b",
        "dir/",
        "a\0b",
        "tab\there",
    ] {
        assert!(check_key(key).is_err(), "{key:?} was accepted");
    }
    assert!(check_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
    for key in [
        "a",
        "a/b/c.txt",
        "my photo+1 é.jpg",
        "..a",
        "a..b/c",
        ".hidden",
    ] {
        assert!(check_key(key).is_ok(), "{key:?} was refused");
    }
}

#[tokio::test]
async fn the_dir_store_never_leaves_its_root() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"secret").unwrap();
    let store = DirStore::new(dir.path()).unwrap();
    store
        .put("photos", "x", b"x", &PutOptions::default())
        .await
        .unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("photos/link")).unwrap();
    let err = store.head("photos", "link/secret").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidKey(why) if why.contains("symbolic link")),
        "{err:?}"
    );
    assert!(
        store
            .put("photos", "link/new", b"x", &PutOptions::default())
            .await
            .is_err()
    );
    assert!(!outside.path().join("new").exists());
    for key in ["../escape", "/abs"] {
        assert!(matches!(
            store.put("photos", key, b"x", &PutOptions::default()).await,
            Err(StoreError::InvalidKey(_))
        ));
    }
    assert!(matches!(
        store.head("..", "x").await,
        Err(StoreError::InvalidKey(_))
    ));
    assert!(matches!(
        store
            .put("photos", "x.s3meta.json", b"x", &PutOptions::default())
            .await,
        Err(StoreError::InvalidKey(_))
    ));
    // A key whose prefix is an object cannot be stored in a folder.
    let err = store
        .put("photos", "x/y", b"y", &PutOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidKey(why) if why.contains("photos/x/y")),
        "{err:?}"
    );
    // Sidecars stay out of listings.
    let page = store.list("photos", "", None, 100).await.unwrap();
    assert_eq!(
        page.objects
            .iter()
            .map(|o| o.key.as_str())
            .collect::<Vec<_>>(),
        ["x"]
    );
}
