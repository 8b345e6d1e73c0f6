//! Precompiled plugins (`s3plug compile`): loaded without compiling when they fit the
//! engine, refused (or replaced by the `.wasm` beside them) when they do not.

use std::path::Path;
use std::process::Command;

use s3plug_host::outcome::Status;
use s3plug_host::plugin::LoadKind;
use s3plug_tests::{
    COMPILE_CACHE, Harness, RawRecord, TESTGUEST, outcome_of, s3_event, s3plug_bin,
};

fn config(wasm: &Path) -> String {
    format!(
        "[[plugin]]\nname = \"guest\"\nwasm = \"{}\"\ntrigger = {{ bucket = \"inbox\" }}\n",
        wasm.display()
    )
}

fn compile_with_the_binary(wasm: &Path, out: &Path) {
    let output = Command::new(s3plug_bin())
        .args([
            "compile",
            &wasm.display().to_string(),
            "-o",
            &out.display().to_string(),
        ])
        .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
        .output()
        .expect("s3plug runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("compiled "));
}

#[test]
fn a_precompiled_plugin_loads_without_compiling_and_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cwasm = dir.path().join("guest.cwasm");
    compile_with_the_binary(Path::new(TESTGUEST), &cwasm);
    let h = Harness::new(&config(&cwasm));
    assert_eq!(
        h.pipeline.registry().plugins()[0].load_kind,
        LoadKind::Precompiled
    );
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "echo/x")]));
    assert_eq!(
        outcome_of(&outcomes, 0, "guest").status,
        Status::Ok,
        "{outcomes:#?}"
    );
}

/// An artifact from an engine with other settings: what a different s3plug would make.
fn foreign_artifact(path: &Path) {
    let mut config = s3plug_host::plugin::engine_config();
    config.epoch_interruption(false);
    let engine = wasmtime::Engine::new(&config).expect("an engine");
    let wasm = std::fs::read(TESTGUEST).expect("the guest");
    std::fs::write(path, engine.precompile_component(&wasm).expect("compiles")).expect("written");
}

#[test]
fn a_foreign_artifact_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cwasm = dir.path().join("guest.cwasm");
    foreign_artifact(&cwasm);
    let config_path = dir.path().join("s3plug.toml");
    std::fs::write(&config_path, config(&cwasm)).expect("written");
    let output = Command::new(s3plug_bin())
        .args(["check", "--config", &config_path.display().to_string()])
        .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
        .output()
        .expect("s3plug runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("does not fit this host") && stderr.contains("s3plug compile"),
        "{stderr}"
    );
}

#[test]
fn a_foreign_artifact_gives_way_to_the_wasm_beside_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(TESTGUEST, dir.path().join("guest.wasm")).expect("copied");
    let cwasm = dir.path().join("guest.cwasm");
    foreign_artifact(&cwasm);
    let h = Harness::new(&config(&cwasm));
    assert_ne!(
        h.pipeline.registry().plugins()[0].load_kind,
        LoadKind::Precompiled
    );
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "echo/x")]));
    assert_eq!(
        outcome_of(&outcomes, 0, "guest").status,
        Status::Ok,
        "{outcomes:#?}"
    );
}

#[test]
fn a_missing_artifact_gives_way_to_the_wasm_beside_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(TESTGUEST, dir.path().join("guest.wasm")).expect("copied");
    let h = Harness::new(&config(&dir.path().join("guest.cwasm")));
    assert_ne!(
        h.pipeline.registry().plugins()[0].load_kind,
        LoadKind::Precompiled
    );
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "echo/x")]));
    assert_eq!(
        outcome_of(&outcomes, 0, "guest").status,
        Status::Ok,
        "{outcomes:#?}"
    );
}

#[test]
fn plugins_run_the_same_without_the_pooling_allocator() {
    use s3plug_host::plugin::{Allocator, EngineOptions, new_engine_with};
    let options = EngineOptions {
        pooling: false,
        ..EngineOptions::default()
    };
    let (engine, allocator) = new_engine_with(&options).expect("an engine");
    assert_eq!(allocator, Allocator::OnDemand);
    let dir = tempfile::tempdir().expect("temp dir");
    let text = config(Path::new(TESTGUEST)) + "limits = { timeout_ms = 200 }\n";
    let config = s3plug_host::Config::parse(&text, "s3plug.toml", dir.path()).expect("valid");
    let store = s3plug_host::store::MemoryStore::new();
    let pipeline = s3plug_tests::block_on(s3plug_host::Pipeline::new(
        &engine,
        &config,
        std::sync::Arc::new(store),
        Some(&s3plug_tests::compile_cache()),
    ))
    .expect("loads");
    let event = s3plug_host::event::decode_value(s3_event(&[
        RawRecord::put("inbox", "echo/x"),
        RawRecord::put("inbox", "loop/x"),
    ]))
    .expect("decodes");
    let outcomes = s3plug_tests::block_on(pipeline.process(&event));
    assert_eq!(
        outcome_of(&outcomes, 0, "guest").status,
        Status::Ok,
        "{outcomes:#?}"
    );
    assert_eq!(
        outcome_of(&outcomes, 1, "guest").reason,
        Some(s3plug_host::outcome::FailureKind::Timeout)
    );
}
