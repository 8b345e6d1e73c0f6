//! The author tooling's commands: `event`, `test`, `new` (and `dev`, in cli.rs).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use s3plug_host::store;
use s3plug_tools::eventgen::{self, Delivery, EventSpec};

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

pub(crate) fn print_event(
    mut spec: EventSpec,
    size_given: bool,
    file: Option<&Path>,
    delivery: &Delivery,
) -> anyhow::Result<u8> {
    anyhow::ensure!(
        s3plug_host::grant::valid_bucket_name(&spec.bucket),
        "{:?} is not a valid bucket name",
        spec.bucket
    );
    for key in &spec.keys {
        store::check_key(key).map_err(anyhow::Error::msg)?;
    }
    if let Some(path) = file {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {path:?}"))?;
        if !size_given {
            spec.size = bytes.len() as u64;
        }
        spec.etag = Some(store::etag_of(&bytes));
    }
    let payload = eventgen::generate(&spec, delivery)?;
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &payload)?;
    stdout.write_all(b"\n")?;
    Ok(EXIT_OK)
}

/// `s3plug test`: every case of every file, one line each, a diff under each failure.
pub(crate) fn run_tests(paths: &[PathBuf], filter: Option<&str>) -> anyhow::Result<u8> {
    let default = [PathBuf::from("tests")];
    anyhow::ensure!(
        !paths.is_empty() || default[0].is_dir(),
        "no tests/ folder here: name test files or folders, as `s3plug test tests/thumbnail.test.toml`"
    );
    let roots = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            let found = s3plug_tools::testcase::discover(root)
                .with_context(|| format!("cannot search {:?} for test files", root.display()))?;
            anyhow::ensure!(
                !found.is_empty(),
                "no *{} files under {:?}",
                s3plug_tools::testcase::TEST_FILE_SUFFIX,
                root.display()
            );
            files.extend(found);
        } else {
            files.push(root.clone());
        }
    }
    let (mut passed, mut failed, mut filtered_out, mut bad) = (0, 0, 0, 0);
    for path in &files {
        let report = s3plug_tools::testcase::TestFile::load(path).and_then(|file| {
            let mut stdout = io::stdout().lock();
            let _ = writeln!(
                stdout,
                "running {} cases from {}",
                file.cases.len(),
                path.display()
            );
            file.run_cases(filter, |case| {
                let _ = writeln!(stdout, "{case}");
            })
        });
        match report {
            Ok(report) => {
                passed += report.passed();
                failed += report.failed();
                filtered_out += report.filtered_out;
            }
            Err(err) => {
                // The error and its causes, as every other command prints them.
                let err = anyhow::Error::new(err);
                let _ = writeln!(io::stderr().lock(), "s3plug: {err:#}");
                bad += 1;
            }
        }
    }
    let mut summary = s3plug_tools::testcase::summary(passed, failed, filtered_out);
    if bad > 0 {
        summary.push_str(&format!(", {bad} test file(s) with errors"));
    }
    writeln!(io::stdout().lock(), "{summary}")?;
    Ok(if bad > 0 {
        EXIT_USAGE
    } else if failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

pub(crate) fn new_project(
    name: String,
    lang: s3plug_tools::scaffold::Lang,
    sdk: Option<PathBuf>,
) -> anyhow::Result<u8> {
    let project = s3plug_tools::scaffold::NewProject {
        name,
        lang,
        dir: std::env::current_dir()?,
        sdk: sdk.unwrap_or_else(s3plug_tools::scaffold::default_sdk_path),
    };
    let (root, commands) = project.create()?;
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "created {}; build and test it with:\n",
        root.display()
    )?;
    for command in commands {
        writeln!(stdout, "    {command}")?;
    }
    writeln!(stdout, "\nthen run it live on a local S3 endpoint:\n")?;
    for command in s3plug_tools::scaffold::NewProject::live_commands() {
        writeln!(stdout, "    {command}")?;
    }
    Ok(EXIT_OK)
}
