//! A plugin written in JavaScript (plugins/js-upper, made a component by componentize-js)
//! runs against the same contract as the Rust ones, under the same grants and limits: the
//! checks of `upper`, which the Python plugin passes too.
//!
//! The component is built here, on first use (see `s3plug_tests::tool_build`), by the
//! componentize-js that scripts/install-test-deps puts in target/test-node; its first load
//! compiles it into the shared compile cache (seconds).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use s3plug_tests::tool_build::built_once;
use s3plug_tests::{compile_cache, engine, repo_root};

use crate::upper::{self, Upper};

fn tools() -> PathBuf {
    repo_root().join("target/test-node/node_modules")
}

fn componentize_js_version() -> String {
    let package = tools().join("@bytecodealliance/componentize-js/package.json");
    let text = std::fs::read_to_string(&package).unwrap_or_else(|err| {
        panic!(
            "{}: {err}; run scripts/install-test-deps (it installs componentize-js into \
             target/test-node)",
            package.display()
        )
    });
    let package: serde_json::Value = serde_json::from_str(&text).expect("package.json is JSON");
    package["version"].as_str().expect("a version").to_owned()
}

/// The JavaScript plugin's component, built if its inputs changed and compiled into the
/// compile cache, once per process.
fn js_upper() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = repo_root();
        let source = root.join("plugins/js-upper/app.js");
        let (wasm, _) = built_once(
            "js",
            "js-upper",
            std::slice::from_ref(&source),
            &componentize_js_version(),
            |work| componentize(&source, &root.join("wit"), work),
        );
        let bytes = std::fs::read(&wasm).expect("the component is readable");
        compile_cache()
            .component(engine(), &bytes)
            .unwrap_or_else(|err| panic!("{} does not compile: {err:#}", wasm.display()));
        wasm
    })
}

fn componentize(source: &Path, wit: &Path, work: &Path) -> PathBuf {
    let output = work.join("js-upper.wasm");
    let result = Command::new(tools().join(".bin/componentize-js"))
        .current_dir(work)
        .arg(source)
        .arg("--wit")
        .arg(wit)
        .args([
            "--world-name",
            "plugin",
            "--disable",
            "http",
            "fetch-event",
            "--out",
        ])
        .arg(&output)
        .output()
        .expect("componentize-js runs: run scripts/install-test-deps");
    assert!(
        result.status.success() && output.is_file(),
        "componentize-js failed on plugins/js-upper/app.js:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    output
}

fn js() -> Upper<'static> {
    Upper {
        name: "js-upper",
        wasm: js_upper(),
    }
}

#[test]
fn js_copy_is_upper_cased_and_complete_across_chunks() {
    upper::copy_is_upper_cased_and_complete_across_chunks(js());
}

#[test]
fn js_plugin_writes_to_the_configured_bucket_and_prefix() {
    upper::writes_to_the_configured_bucket_and_prefix(js());
}

#[test]
fn js_write_outside_the_grants_is_denied() {
    upper::write_outside_the_grants_is_denied(js());
}

#[test]
fn js_thrown_string_is_a_plugin_error() {
    upper::its_error_is_a_plugin_error(js());
}

#[test]
fn js_past_its_timeout_fails_alone() {
    upper::past_its_timeout_fails_alone(js());
}

#[test]
fn js_past_its_memory_fails_alone() {
    upper::past_its_memory_fails_alone(js());
}

#[test]
fn js_below_its_initial_memory_is_refused_at_load() {
    upper::below_its_initial_memory_is_refused_at_load(
        js(),
        2,
        "its linear memory starts at 9.1 MiB, more than limits.memory_mib = 2 allows: \
         give it a memory_mib of at least 10",
    );
}
