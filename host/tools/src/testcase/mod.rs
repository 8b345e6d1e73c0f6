//! Declarative test cases for plugins: `s3plug test`, and the same from a plugin author's
//! `cargo test`.
//!
//! A test file (TOML, by convention `tests/*.test.toml`) names the plugins and their
//! configuration (inline `[[plugin]]` tables exactly as in `s3plug.toml`, or
//! `config = "path/to/s3plug.toml"`), the objects in the store before each case
//! (`[[object]]`), and the cases (`[[case]]`): the events to send and what must come of
//! them — outcomes per record, objects written, denials, plugin log lines. The format is
//! documented in `docs/testing-plugins.md`.
//!
//! Each case starts from the seeded objects in a fresh in-memory store and runs through a
//! [`Pipeline`](s3plug_host::Pipeline) built from the file's configuration: the same grants,
//! limits, loop guards and `[host] concurrency` as in production. What a case checks is
//! observed per call and reported in record order, so it is the same on every run however
//! many calls ran at once.
//!
//! ```no_run
//! // tests/cases.rs of a plugin crate, with `s3plug-tools` as a dev-dependency
//! let report = s3plug_tools::testcase::run_file("tests/thumbnail.test.toml")?;
//! report.assert_passed(); // panics with the diff of every failing case
//! # Ok::<(), s3plug_tools::testcase::TestFileError>(())
//! ```

mod capture;
mod events;
mod expect;
mod file;
mod inline_config;
mod report;
mod run;

use std::path::{Path, PathBuf};

pub use file::{Case, TestFile, TestFileError};
pub use report::summary;
pub use report::{CaseReport, Mismatch, Report};

/// The suffix that marks a test file when a folder is searched.
pub const TEST_FILE_SUFFIX: &str = ".test.toml";

/// Reads a test file and runs every case in it. `Err` is a bad test file (or a plugin that
/// does not load); failing cases are in the [`Report`].
pub fn run_file(path: impl AsRef<Path>) -> Result<Report, TestFileError> {
    TestFile::load(path.as_ref())?.run()
}

/// Every `*.test.toml` under `dir`, sorted. Symbolic links to folders are not followed.
pub fn discover(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if path.is_file()
                && path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.ends_with(TEST_FILE_SUFFIX))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests;
