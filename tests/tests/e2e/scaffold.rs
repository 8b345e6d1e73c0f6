//! `s3plug new`: a project that builds and passes its own test with the commands it prints.

use std::path::Path;
use std::process::{Command, Output};

use s3plug_tests::dev::DevServer;
use s3plug_tests::{COMPILE_CACHE, repo_root, s3plug_bin};

fn s3plug_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(s3plug_bin())
        .current_dir(dir)
        .args(args)
        .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
        .output()
        .expect("s3plug runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The last step of README's "Write a plugin": the project's own config under
/// `s3plug dev`, and an upload with the AWS CLI that runs the plugin live.
fn runs_live_under_dev(project: &Path, name: &str) {
    let data = tempfile::tempdir().expect("temp dir");
    let dev = DevServer::start(&project.join("s3plug.toml"), data.path());
    let notes = data.path().join("notes.txt");
    std::fs::write(&notes, "one\ntwo\nthree\n").expect("written");
    dev.aws(&[
        "s3",
        "cp",
        &notes.display().to_string(),
        "s3://my-bucket/incoming/",
    ]);
    let ran = dev.outcome("my-bucket", "incoming/notes.txt", Some(name));
    assert_eq!(ran["status"], "ok", "{ran:#}");
    assert_eq!(ran["outcome"], "processed", "{ran:#}");
    let summary = data
        .path()
        .join("my-bucket/summaries/incoming/notes.txt.json");
    assert_eq!(
        std::fs::read_to_string(&summary).expect("the summary is in the folder"),
        r#"{"bytes":14,"lines":3}"#
    );
    let follow_on = dev.outcome("my-bucket", "summaries/incoming/notes.txt.json", None);
    assert_eq!(follow_on["status"], "unrouted", "{follow_on:#}");
}

/// The printed build command, run as a plugin author would (the target folder is shared
/// between test runs so the guest SDK is compiled once; the component is then put where
/// the project's config expects it).
fn build_rust(project: &Path, crate_file: &str) {
    let target_dir = repo_root().join("target").join("scaffold");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(project)
        .args(["build", "--target", "wasm32-wasip2", "--release"])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the new project does not build");
    let built = target_dir.join(format!("wasm32-wasip2/release/{crate_file}.wasm"));
    let expected = project.join(format!("target/wasm32-wasip2/release/{crate_file}.wasm"));
    std::fs::create_dir_all(expected.parent().expect("a parent")).expect("created");
    std::fs::copy(built, expected).expect("copied");
}

#[test]
fn a_new_rust_plugin_builds_and_passes_its_own_test() {
    let dir = tempfile::tempdir().expect("temp dir");
    let created = s3plug_in(dir.path(), &["new", "word-count"]);
    assert_eq!(created.status.code(), Some(0), "{}", text(&created));
    let printed = text(&created);
    for command in [
        "cargo build --target wasm32-wasip2 --release",
        "s3plug test",
        "s3plug dev",
        "aws s3 cp FILE s3://my-bucket/incoming/ --endpoint-url http://127.0.0.1:9000",
    ] {
        assert!(printed.contains(command), "{printed}");
    }
    let project = dir.path().join("word-count");
    build_rust(&project, "word_count");
    let tested = s3plug_in(&project, &["test"]);
    assert_eq!(tested.status.code(), Some(0), "{}", text(&tested));
    assert!(
        text(&tested).contains("1 passed, 0 failed"),
        "{}",
        text(&tested)
    );

    runs_live_under_dev(&project, "word-count");

    let again = s3plug_in(dir.path(), &["new", "word-count"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("already exists"));
}

#[test]
fn a_new_python_plugin_builds_and_passes_its_own_test() {
    let tool = repo_root().join("target/test-venv/bin/componentize-py");
    assert!(
        tool.is_file(),
        "componentize-py is missing: run scripts/install-test-deps"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let created = s3plug_in(dir.path(), &["new", "py-count", "--lang", "python"]);
    assert_eq!(created.status.code(), Some(0), "{}", text(&created));
    let project = dir.path().join("py-count");
    let built = Command::new(&tool)
        .current_dir(&project)
        .args([
            "-d",
            "wit",
            "-w",
            "plugin",
            "componentize",
            "app",
            "-o",
            "py-count.wasm",
        ])
        .output()
        .expect("componentize-py runs");
    assert!(built.status.success(), "{}", text(&built));
    let tested = s3plug_in(&project, &["test"]);
    assert_eq!(tested.status.code(), Some(0), "{}", text(&tested));
    assert!(
        text(&tested).contains("1 passed, 0 failed"),
        "{}",
        text(&tested)
    );
    runs_live_under_dev(&project, "py-count");
}

#[test]
fn a_new_javascript_plugin_builds_and_passes_its_own_test() {
    let tools = repo_root().join("target/test-node/node_modules");
    assert!(
        tools.join(".bin/componentize-js").is_file(),
        "componentize-js is missing: run scripts/install-test-deps"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let created = s3plug_in(dir.path(), &["new", "js-count", "--lang", "js"]);
    assert_eq!(created.status.code(), Some(0), "{}", text(&created));
    let printed = text(&created);
    for command in ["npm install", "npm run build", "s3plug test", "s3plug dev"] {
        assert!(printed.contains(command), "{printed}");
    }
    let project = dir.path().join("js-count");
    // `npm install` would fetch the pinned componentize-js that scripts/install-test-deps
    // already holds; the printed build command then runs as the author would run it.
    std::os::unix::fs::symlink(&tools, project.join("node_modules")).expect("linked");
    let built = Command::new("npm")
        .current_dir(&project)
        .args(["run", "build"])
        .output()
        .expect("npm runs");
    assert!(built.status.success(), "{}", text(&built));
    assert!(project.join("js-count.wasm").is_file(), "{}", text(&built));
    let tested = s3plug_in(&project, &["test"]);
    assert_eq!(tested.status.code(), Some(0), "{}", text(&tested));
    assert!(
        text(&tested).contains("1 passed, 0 failed"),
        "{}",
        text(&tested)
    );
    runs_live_under_dev(&project, "js-count");
}
