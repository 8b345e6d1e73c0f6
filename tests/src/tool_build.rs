//! Components built by a language's own tool (componentize-py, componentize-js) on first use,
//! not by the build script: only the tests of that language need the tool
//! (scripts/install-test-deps installs it), and a `cargo build` or `cargo clippy` does not.
//!
//! A build is named after a hash of its inputs (the sources, the WIT files, the tool's
//! version), so it is redone exactly when one of them changes; it is made in a temporary
//! folder and renamed into place, so concurrent test processes never see half a file.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::repo_root;

/// Returns `target/guests/<lang>/<name>-<inputs hash>.wasm`, built by `build` unless it is
/// there, and the build time when it was built now. `build` gets an empty work folder
/// (beside the output, on the same file system) and returns the component it made there.
/// The WIT files of `wit/` are inputs of every build.
pub fn built_once(
    lang: &str,
    name: &str,
    sources: &[PathBuf],
    tool_version: &str,
    build: impl FnOnce(&Path) -> PathBuf,
) -> (PathBuf, Option<Duration>) {
    let root = repo_root();
    let mut inputs = DefaultHasher::new();
    tool_version.hash(&mut inputs);
    let mut wit_files: Vec<PathBuf> = std::fs::read_dir(root.join("wit"))
        .expect("the wit folder")
        .map(|entry| entry.expect("a wit folder entry").path())
        .collect();
    wit_files.sort();
    for file in sources.iter().chain(&wit_files) {
        file.file_name().hash(&mut inputs);
        std::fs::read(file)
            .unwrap_or_else(|err| panic!("{}: {err}", file.display()))
            .hash(&mut inputs);
    }

    let out_dir = root.join("target/guests").join(lang);
    let wasm = out_dir.join(format!("{name}-{:016x}.wasm", inputs.finish()));
    if wasm.is_file() {
        return (wasm, None);
    }
    std::fs::create_dir_all(&out_dir).expect("the output folder");
    let work = tempfile::tempdir_in(&out_dir).expect("a temporary folder");
    let started = Instant::now();
    let output = build(work.path());
    let took = started.elapsed();
    // Rename within one file system: readers see the whole file or none.
    std::fs::rename(&output, &wasm).expect("the component is moved into place");
    // Builds of older sources are never used again.
    let prefix = format!("{name}-");
    for entry in std::fs::read_dir(&out_dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        if file.starts_with(&prefix) && file.ends_with(".wasm") && path != wasm {
            let _ = std::fs::remove_file(&path);
        }
    }
    (wasm, Some(took))
}
