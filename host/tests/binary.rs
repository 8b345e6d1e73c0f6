//! The `s3plug` binary starts and answers. Its real tests are in the `tests/` crate; this
//! target exists so that `cargo test --workspace` builds the binary with the same features
//! as everything else, and the end-to-end tests find it next to themselves.

use std::process::Command;

#[test]
fn the_binary_prints_its_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_s3plug"))
        .arg("--version")
        .output()
        .expect("s3plug runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.trim(), format!("s3plug {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_usage_exits_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_s3plug"))
        .arg("--no-such-flag")
        .output()
        .expect("s3plug runs");
    assert_eq!(output.status.code(), Some(2));
}
