//! Builds the plugins for wasm32-wasip2 and tells the tests where they are.
//!
//! The guests are built by a nested cargo into `target/guests`, a target folder of their
//! own (the outer build holds a lock on its own), with the flags of `.cargo/config.toml`
//! rather than the host's.

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// Every guest the tests run: (package, file stem, constant).
const GUESTS: &[(&str, &str, &str)] = &[
    ("thumbnail", "thumbnail", "THUMBNAIL"),
    ("csv-to-jsonl", "csv_to_jsonl", "CSV_TO_JSONL"),
    ("testguest", "testguest", "TESTGUEST"),
];

fn main() {
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf();
    let target_dir = root.join("target").join("guests");
    for watched in [
        "wit",
        "guest-sdk",
        "plugins",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args(["build", "--profile", "guest", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    for (package, _, _) in GUESTS {
        command.args(["-p", package]);
    }
    let status = command
        .status()
        .expect("cannot run cargo to build the plugins");
    assert!(
        status.success(),
        "building the plugins for wasm32-wasip2 failed; is the target installed? \
         (`rustup target add wasm32-wasip2`, or run scripts/test)"
    );

    let mut consts = String::new();
    for (_, stem, name) in GUESTS {
        let path = target_dir
            .join("wasm32-wasip2")
            .join("guest")
            .join(format!("{stem}.wasm"));
        assert!(path.is_file(), "{} was not built", path.display());
        writeln!(
            consts,
            "/// The `{stem}` component.\npub const {name}: &str = {:?};",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    writeln!(consts, "/// Where compiled components are cached between test runs.\npub const COMPILE_CACHE: &str = {:?};", target_dir.join("compile-cache").display().to_string())
        .expect("writing to a String");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("guests.rs");
    std::fs::write(out, consts).expect("cannot write guests.rs");
}
