//! `s3plug new`: a plugin project that builds and passes its own test with the commands it
//! prints. Rust projects use the guest SDK; Python and JavaScript projects get the WIT
//! contract itself.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The languages `s3plug new` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    /// JavaScript, built with `componentize-js` (npm).
    Js,
}

/// The `componentize-js` release JavaScript projects build with (as `scripts/install-test-deps`
/// installs for the tests): 0.23 makes components that wasmtime 48 runs.
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";

/// The contract, embedded so that a project can be made anywhere.
const WIT: &[(&str, &str)] = &[
    ("world.wit", include_str!("../../wit/world.wit")),
    ("types.wit", include_str!("../../wit/types.wit")),
    ("objects.wit", include_str!("../../wit/objects.wit")),
    ("log.wit", include_str!("../../wit/log.wit")),
    ("config.wit", include_str!("../../wit/config.wit")),
];

/// The guest SDK of the s3plug source tree this binary was built from.
pub fn default_sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("guest-sdk")
}

/// A project to make.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: String,
    pub lang: Lang,
    /// Where the project goes: `<dir>/<name>`.
    pub dir: PathBuf,
    /// The `s3plug-guest` crate a Rust project depends on.
    pub sdk: PathBuf,
}

/// Checks a project name: it becomes a folder, a crate and a plugin name.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?}: use a-z first, then a-z, 0-9, - and _ (at most 64)"
        ))
    }
}

impl NewProject {
    /// Writes the project; returns its folder and the commands that build and test it.
    pub fn create(&self) -> anyhow::Result<(PathBuf, Vec<String>)> {
        check_name(&self.name).map_err(anyhow::Error::msg)?;
        let root = self.dir.join(&self.name);
        anyhow::ensure!(!root.exists(), "{} already exists", root.display());
        let files = match self.lang {
            Lang::Rust => self.rust_files()?,
            Lang::Python => self.python_files(),
            Lang::Js => self.js_files(),
        };
        for (path, text) in &files {
            let path = root.join(path);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
        let commands = match self.lang {
            Lang::Rust => vec![
                format!("cd {}", root.display()),
                "rustup target add wasm32-wasip2".to_owned(),
                "cargo build --target wasm32-wasip2 --release".to_owned(),
                "s3plug test".to_owned(),
            ],
            Lang::Python => vec![
                format!("cd {}", root.display()),
                "pip install componentize-py==0.25.1".to_owned(),
                format!(
                    "componentize-py -d wit -w plugin componentize app -o {}.wasm",
                    self.name
                ),
                "s3plug test".to_owned(),
            ],
            Lang::Js => vec![
                format!("cd {}", root.display()),
                "npm install".to_owned(),
                "npm run build".to_owned(),
                "s3plug test".to_owned(),
            ],
        };
        Ok((root, commands))
    }

    /// The commands that run the built plugin live under `s3plug dev`, with an upload that
    /// triggers it.
    pub fn live_commands() -> Vec<String> {
        use crate::frontend::dev::{DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY};
        vec![
            "s3plug dev".to_owned(),
            "# and in another terminal:".to_owned(),
            format!(
                "export AWS_ACCESS_KEY_ID={DEFAULT_ACCESS_KEY} AWS_SECRET_ACCESS_KEY={DEFAULT_SECRET_KEY} AWS_REGION=us-east-1"
            ),
            "aws s3 cp FILE s3://my-bucket/incoming/ --endpoint-url http://127.0.0.1:9000"
                .to_owned(),
        ]
    }

    fn config(&self, wasm: &str) -> String {
        format!(
            r#"# The plugin's entry for s3plug.toml. Paths are relative to this file.
[[plugin]]
name = "{name}"
wasm = "{wasm}"
# New objects under incoming/ in my-bucket run the plugin...
trigger = {{ bucket = "my-bucket", prefix = "incoming/", events = ["s3:ObjectCreated:*"] }}
# ...which may read the object that triggered it, and write summaries only.
write = ["my-bucket/summaries/"]
limits = {{ timeout_ms = 5000, memory_mib = 64, max_writes = 1 }}
config = {{ target_prefix = "summaries/" }}
"#,
            name = self.name
        )
    }

    fn test_file(&self) -> String {
        format!(
            r#"# Test cases for {name}: `s3plug test` runs every tests/*.test.toml. Each case starts
# from the objects below in a fresh in-memory store, with the plugin set up as in
# ../s3plug.toml: the same grants, limits and loop guards as in production.
config = "../s3plug.toml"

[[object]]
bucket = "my-bucket"
key = "incoming/notes.txt"
text = "one\ntwo\nthree\n"

[[case]]
name = "a new object gets a summary"
events = ["put my-bucket/incoming/notes.txt"]

  [[case.outcome]]
  plugin = "{name}"
  status = "ok"
  outcome = "processed"

  [[case.object]]
  bucket = "my-bucket"
  key = "summaries/incoming/notes.txt.json"
  text = '{{"bytes":14,"lines":3}}'
  content_type = "application/json"
"#,
            name = self.name
        )
    }

    fn rust_files(&self) -> anyhow::Result<Vec<(PathBuf, String)>> {
        let sdk = self
            .sdk
            .canonicalize()
            .with_context(|| format!("the guest SDK is not at {}", self.sdk.display()))?;
        let crate_file = self.name.replace('-', "_");
        let cargo = format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
s3plug-guest = {{ path = "{sdk}" }}

# A plugin is a project of its own, even when it sits inside another workspace.
[workspace]

[profile.release]
strip = "debuginfo"
"#,
            name = self.name,
            sdk = sdk.display()
        );
        let lib = format!(
            r##"//! {name}: an s3plug plugin. For each new object it writes a summary (bytes and
//! lines) as JSON to `target_prefix` + the object's key, in the same bucket.

use std::io::Read;

use s3plug_guest::{{Error, Outcome, PutOptions, Record, config, handler, log, objects}};

/// Called once for every record routed to the plugin.
#[handler]
fn handle(record: Record) -> Result<Outcome, Error> {{
    let prefix = config::get_or("target_prefix", "summaries/");
    if record.key.starts_with(&prefix) {{
        // Never process your own output.
        return Ok(Outcome::skipped("one of my own summaries"));
    }}
    // Stream the object: memory stays flat whatever its size.
    let mut reader = objects::get(&record.bucket, &record.key)?;
    let (mut bytes, mut lines) = (0_u64, 0_u64);
    let mut chunk = vec![0; 64 * 1024];
    loop {{
        let n = reader.read(&mut chunk)?;
        if n == 0 {{
            break;
        }}
        bytes += n as u64;
        lines += chunk[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }}
    let key = format!("{{prefix}}{{}}.json", record.key);
    let summary = format!(r#"{{{{"bytes":{{bytes}},"lines":{{lines}}}}}}"#);
    let options = PutOptions::new().content_type("application/json");
    objects::put(&record.bucket, &key, summary.as_bytes(), &options)?;
    log::info!("summarised {{}}: {{bytes}} bytes, {{lines}} lines", record.key);
    Ok(Outcome::processed(format!("wrote {{}}/{{key}}", record.bucket)))
}}
"##,
            name = self.name
        );
        Ok(vec![
            ("Cargo.toml".into(), cargo),
            ("src/lib.rs".into(), lib),
            (
                "s3plug.toml".into(),
                self.config(&format!("target/wasm32-wasip2/release/{crate_file}.wasm")),
            ),
            (
                format!("tests/{}.test.toml", self.name).into(),
                self.test_file(),
            ),
            (".gitignore".into(), "target/\ns3plug-data/\n".into()),
        ])
    }

    /// The contract, for the languages that generate their bindings from it.
    fn wit_files() -> impl Iterator<Item = (PathBuf, String)> {
        WIT.iter()
            .map(|(file, text)| (Path::new("wit").join(file), (*text).to_owned()))
    }

    fn js_files(&self) -> Vec<(PathBuf, String)> {
        let package = format!(
            r#"{{
  "name": "{name}",
  "private": true,
  "type": "module",
  "scripts": {{
    "build": "componentize-js app.js --wit wit --world-name plugin --disable http fetch-event --out {name}.wasm"
  }},
  "devDependencies": {{
    "@bytecodealliance/componentize-js": "{COMPONENTIZE_JS_VERSION}"
  }}
}}
"#,
            name = self.name
        );
        let app = r#"// An s3plug plugin. For each new object it writes a summary (bytes and lines) as JSON to
// `target_prefix` + the object's key, in the same bucket.
//
// The imports are the WIT interfaces in wit/: names become camelCase, `option` is a value
// or `undefined`, a `variant` is `{ tag, val }`, and a call whose `result` is an error
// throws it (its `payload` is the `{ tag, val }` of the error variant).
import { get as setting } from "s3plug:plugin/config@0.1.0";
import { log } from "s3plug:plugin/log@0.1.0";
import { get, put } from "s3plug:plugin/objects@0.1.0";

const CHUNK = 64 * 1024;

/** Says why an object call failed. */
function reason(error) {
  const payload = error?.payload ?? error;
  if (payload && typeof payload === "object" && "tag" in payload) {
    return payload.val === undefined ? payload.tag : `${payload.tag}: ${payload.val}`;
  }
  return String(error);
}

/**
 * Called once for every record routed to the plugin. Return an outcome when the record is
 * done (`processed`) or deliberately left alone (`skipped`); throw a string to fail it.
 * (Any other exception traps, which fails the record too, without your message.)
 */
export function handle(record) {
  const prefix = setting("target_prefix") ?? "summaries/";
  if (record.key.startsWith(prefix)) {
    // Never process your own output.
    return { tag: "skipped", val: "one of my own summaries" };
  }
  let bytes = 0;
  let lines = 0;
  const key = `${prefix}${record.key}.json`;
  try {
    // Read in chunks. (The engine's heap still grows with the bytes a call reads: give
    // limits.memory_mib room for your largest object.)
    const reader = get(record.bucket, record.key, undefined);
    for (;;) {
      const chunk = reader.read(CHUNK);
      if (chunk.length === 0) break;
      bytes += chunk.length;
      for (const byte of chunk) if (byte === 10) lines += 1;
    }
    const summary = new TextEncoder().encode(JSON.stringify({ bytes, lines }));
    put(record.bucket, key, summary, { contentType: "application/json", metadata: [] });
  } catch (error) {
    throw `${record.bucket}/${record.key}: ${reason(error)}`;
  }
  log("info", `summarised ${record.key}: ${bytes} bytes, ${lines} lines`);
  return { tag: "processed", val: `wrote ${record.bucket}/${key}` };
}
"#;
        let mut files = vec![
            ("package.json".into(), package),
            ("app.js".into(), app.to_owned()),
            (
                "s3plug.toml".into(),
                self.config(&format!("{}.wasm", self.name)),
            ),
            (
                format!("tests/{}.test.toml", self.name).into(),
                self.test_file(),
            ),
            (
                ".gitignore".into(),
                "node_modules/\n*.wasm\ns3plug-data/\n".into(),
            ),
        ];
        files.extend(Self::wit_files());
        files
    }

    fn python_files(&self) -> Vec<(PathBuf, String)> {
        let app = r#""""An s3plug plugin. For each new object it writes a summary (bytes and lines) as JSON
to `target_prefix` + the object's key, in the same bucket."""

import wit_world
from componentize_py_types import Err
from wit_world.imports import config, log, objects, types

CHUNK = 64 * 1024


class WitWorld(wit_world.WitWorld):
    def handle(self, record: types.S3Record) -> types.Outcome:
        prefix = config.get("target_prefix") or "summaries/"
        if record.key.startswith(prefix):
            # Never process your own output.
            return types.Outcome_Skipped("one of my own summaries")
        size, lines = 0, 0
        try:
            # Stream the object: memory stays flat whatever its size.
            with objects.get(record.bucket, record.key, None) as reader:
                while chunk := reader.read(CHUNK):
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            key = f"{prefix}{record.key}.json"
            summary = f'{{"bytes":{size},"lines":{lines}}}'.encode()
            options = types.PutOptions(content_type="application/json", metadata=[])
            objects.put(record.bucket, key, summary, options)
        except Err as error:
            # An object call failed: fail the record with the reason.
            raise Err(f"{record.bucket}/{record.key}: {error.value}")
        log.log(log.Level.INFO, f"summarised {record.key}: {size} bytes, {lines} lines")
        return types.Outcome_Processed(f"wrote {record.bucket}/{key}")
"#;
        let mut files = vec![
            ("app.py".into(), app.to_owned()),
            (
                "s3plug.toml".into(),
                self.config(&format!("{}.wasm", self.name)),
            ),
            (
                format!("tests/{}.test.toml", self.name).into(),
                self.test_file(),
            ),
            (
                ".gitignore".into(),
                "*.wasm\n__pycache__/\ns3plug-data/\n".into(),
            ),
        ];
        files.extend(Self::wit_files());
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_crates_and_folders() {
        assert!(check_name("thumbs-2").is_ok());
        for bad in ["", "2x", "Big", "a b", "../x", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_project_is_written_once_with_its_files() {
        let dir = tempfile::tempdir().unwrap();
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            let name = format!("p-{lang:?}").to_lowercase();
            let project = NewProject {
                name: name.clone(),
                lang,
                dir: dir.path().into(),
                sdk: default_sdk_path(),
            };
            let (root, commands) = project.create().unwrap();
            assert!(root.join("s3plug.toml").is_file());
            assert!(root.join(format!("tests/{name}.test.toml")).is_file());
            assert!(commands.last().is_some_and(|c| c == "s3plug test"));
            // The config and the test file are what the host accepts.
            crate::Config::load(&root.join("s3plug.toml")).unwrap();
            assert!(
                project
                    .create()
                    .unwrap_err()
                    .to_string()
                    .contains("already exists")
            );
        }
        assert!(dir.path().join("p-python/wit/world.wit").is_file());
        assert!(dir.path().join("p-rust/src/lib.rs").is_file());
        assert!(dir.path().join("p-js/wit/objects.wit").is_file());
        let package = fs::read_to_string(dir.path().join("p-js/package.json")).unwrap();
        let package: serde_json::Value = serde_json::from_str(&package).unwrap();
        assert_eq!(
            package["devDependencies"]["@bytecodealliance/componentize-js"],
            COMPONENTIZE_JS_VERSION
        );
        assert!(
            package["scripts"]["build"]
                .as_str()
                .unwrap()
                .ends_with("--out p-js.wasm")
        );
    }

    #[test]
    fn the_tests_install_the_componentize_js_that_projects_use() {
        let script = include_str!("../../scripts/install-test-deps");
        assert!(
            script.contains(&format!(
                "COMPONENTIZE_JS_VERSION={COMPONENTIZE_JS_VERSION}\n"
            )),
            "scripts/install-test-deps pins another componentize-js"
        );
    }
}
