//! The same behaviour from every backend.

use std::io::Read;

use super::*;

fn backends() -> Vec<(Box<dyn ObjectStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::new(dir.path()).unwrap();
    vec![
        (Box::new(MemoryStore::new()), None),
        (Box::new(store), Some(dir)),
    ]
}

fn read_all(store: &dyn ObjectStore, bucket: &str, key: &str, range: Option<ByteRange>) -> Vec<u8> {
    let mut out = Vec::new();
    store
        .get(bucket, key, range)
        .unwrap()
        .body
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn put_head_get_and_ranges() {
    for (store, _dir) in backends() {
        let options = PutOptions {
            content_type: Some("text/plain".into()),
            metadata: vec![("Origin".into(), "test".into())],
        };
        let info = store
            .put("photos", "in/a b.txt", b"0123456789", &options)
            .unwrap();
        assert_eq!(info.size, 10);
        let head = store.head("photos", "in/a b.txt").unwrap();
        assert_eq!(head.content_type.as_deref(), Some("text/plain"));
        assert_eq!(
            head.metadata,
            vec![("origin".to_owned(), "test".to_owned())]
        );
        assert_eq!(head.etag, info.etag);
        assert_eq!(
            read_all(&*store, "photos", "in/a b.txt", None),
            b"0123456789"
        );
        let range = |first, last| Some(ByteRange { first, last });
        assert_eq!(
            read_all(&*store, "photos", "in/a b.txt", range(2, 5)),
            b"2345"
        );
        assert_eq!(
            read_all(&*store, "photos", "in/a b.txt", range(8, 100)),
            b"89"
        );
        assert_eq!(
            store
                .get("photos", "in/a b.txt", range(10, 12))
                .unwrap_err(),
            StoreError::InvalidRange
        );
        assert!(
            matches!(
                store.head("photos", "nope"),
                Err(StoreError::NotFound { .. })
            ),
            "{}",
            store.describe()
        );
        assert!(
            matches!(
                store.head("nobucket", "x"),
                Err(StoreError::NoSuchBucket(_))
            ),
            "{}",
            store.describe()
        );
    }
}

#[test]
fn streaming_writes_appear_only_when_finished() {
    for (store, _dir) in backends() {
        let mut writer = store
            .create("photos", "big.bin", &PutOptions::default())
            .unwrap();
        writer.write(b"hello ").unwrap();
        writer.write(b"world").unwrap();
        assert!(
            store.head("photos", "big.bin").is_err(),
            "{}: visible before finish",
            store.describe()
        );
        let info = writer.finish().unwrap();
        assert_eq!(info.size, 11);
        assert_eq!(read_all(&*store, "photos", "big.bin", None), b"hello world");

        let mut aborted = store
            .create("photos", "aborted.bin", &PutOptions::default())
            .unwrap();
        aborted.write(b"partial").unwrap();
        drop(aborted);
        assert!(
            store.head("photos", "aborted.bin").is_err(),
            "{}: an aborted write left an object",
            store.describe()
        );
    }
}

#[test]
fn listing_pages_copy_and_delete() {
    for (store, _dir) in backends() {
        for key in ["a/1", "a/2", "a/3", "b/1", "a0"] {
            store
                .put("photos", key, key.as_bytes(), &PutOptions::default())
                .unwrap();
        }
        let page = store.list("photos", "a/", None, 2).unwrap();
        let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a/1", "a/2"], "{}", store.describe());
        let rest = store.list("photos", "a/", page.next.as_deref(), 2).unwrap();
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
            .unwrap();
        let copied = store
            .copy("photos", "meta.txt", "other", "copy.txt", None)
            .unwrap();
        assert_eq!(copied.content_type.as_deref(), Some("x/y"));
        assert_eq!(copied.metadata, vec![("k".to_owned(), "v".to_owned())]);
        let replaced = PutOptions {
            content_type: Some("a/b".into()),
            metadata: vec![("n".into(), "1".into())],
        };
        let copied = store
            .copy("photos", "meta.txt", "other", "copy2.txt", Some(&replaced))
            .unwrap();
        assert_eq!(copied.content_type.as_deref(), Some("a/b"));
        assert_eq!(copied.metadata, vec![("n".to_owned(), "1".to_owned())]);
        assert_eq!(read_all(&*store, "other", "copy2.txt", None), b"m");

        store.delete("photos", "a/1").unwrap();
        store.delete("photos", "a/1").unwrap();
        assert!(store.head("photos", "a/1").is_err());
    }
}

#[test]
fn keys_that_mean_different_things_on_disk_and_on_s3_are_refused() {
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

#[test]
fn the_dir_store_never_leaves_its_root() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"secret").unwrap();
    let store = DirStore::new(dir.path()).unwrap();
    store
        .put("photos", "x", b"x", &PutOptions::default())
        .unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("photos/link")).unwrap();
    let err = store.head("photos", "link/secret").unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidKey(why) if why.contains("symbolic link")),
        "{err:?}"
    );
    assert!(
        store
            .put("photos", "link/new", b"x", &PutOptions::default())
            .is_err()
    );
    assert!(!outside.path().join("new").exists());
    for key in ["../escape", "/abs"] {
        assert!(matches!(
            store.put("photos", key, b"x", &PutOptions::default()),
            Err(StoreError::InvalidKey(_))
        ));
    }
    assert!(matches!(
        store.head("..", "x"),
        Err(StoreError::InvalidKey(_))
    ));
    assert!(matches!(
        store.put("photos", "x.s3meta.json", b"x", &PutOptions::default()),
        Err(StoreError::InvalidKey(_))
    ));
    // A key whose prefix is an object cannot be stored in a folder.
    let err = store
        .put("photos", "x/y", b"y", &PutOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidKey(why) if why.contains("photos/x/y")),
        "{err:?}"
    );
    // Sidecars stay out of listings.
    let page = store.list("photos", "", None, 100).unwrap();
    assert_eq!(
        page.objects
            .iter()
            .map(|o| o.key.as_str())
            .collect::<Vec<_>>(),
        ["x"]
    );
}
