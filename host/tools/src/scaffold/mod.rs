//! `s3plug new`: a plugin project that builds and passes its own test with the commands it
//! prints. Rust projects use the guest SDK; Python and JavaScript projects get the WIT
//! contract itself.

mod template;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use template::render;

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
    ("world.wit", include_str!("../../../../wit/world.wit")),
    ("types.wit", include_str!("../../../../wit/types.wit")),
    ("objects.wit", include_str!("../../../../wit/objects.wit")),
    ("log.wit", include_str!("../../../../wit/log.wit")),
    ("config.wit", include_str!("../../../../wit/config.wit")),
];

/// The guest SDK of the s3plug source tree this binary was built from.
pub fn default_sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
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
        for (path, text) in &self.files()? {
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
        use crate::dev_credentials::{
            ACCESS_KEY as DEFAULT_ACCESS_KEY, SECRET_KEY as DEFAULT_SECRET_KEY,
        };
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

    /// The project's files, paths relative to its folder.
    fn files(&self) -> anyhow::Result<Vec<(PathBuf, String)>> {
        match self.lang {
            Lang::Rust => self.rust_files(),
            Lang::Python => self.python_files(),
            Lang::Js => self.js_files(),
        }
    }

    /// The plugin's entry for `s3plug.toml`, its component at `wasm`.
    fn config(&self, wasm: &str) -> anyhow::Result<(PathBuf, String)> {
        let text = render(template::CONFIG, &[("name", &self.name), ("wasm", wasm)])?;
        Ok(("s3plug.toml".into(), text))
    }

    /// The test case that the plugin as written passes.
    fn test_file(&self) -> anyhow::Result<(PathBuf, String)> {
        let text = render(template::TEST_FILE, &[("name", &self.name)])?;
        Ok((format!("tests/{}.test.toml", self.name).into(), text))
    }

    /// A Rust project: a `cdylib` crate on the guest SDK.
    fn rust_files(&self) -> anyhow::Result<Vec<(PathBuf, String)>> {
        let sdk = self
            .sdk
            .canonicalize()
            .with_context(|| format!("the guest SDK is not at {}", self.sdk.display()))?;
        let crate_file = self.name.replace('-', "_");
        let sdk = sdk.display().to_string();
        let cargo = render(template::RUST_CARGO, &[("name", &self.name), ("sdk", &sdk)])?;
        let lib = render(template::RUST_LIB, &[("name", &self.name)])?;
        Ok(vec![
            ("Cargo.toml".into(), cargo),
            ("src/lib.rs".into(), lib),
            self.config(&format!("target/wasm32-wasip2/release/{crate_file}.wasm"))?,
            self.test_file()?,
            (".gitignore".into(), render(template::RUST_GITIGNORE, &[])?),
        ])
    }

    /// The contract, for the languages that generate their bindings from it.
    fn wit_files() -> impl Iterator<Item = (PathBuf, String)> {
        WIT.iter()
            .map(|(file, text)| (Path::new("wit").join(file), (*text).to_owned()))
    }

    /// A JavaScript project, built with `componentize-js` from the contract.
    fn js_files(&self) -> anyhow::Result<Vec<(PathBuf, String)>> {
        let package = render(
            template::JS_PACKAGE,
            &[
                ("name", &self.name),
                ("componentize_js_version", COMPONENTIZE_JS_VERSION),
            ],
        )?;
        let mut files = vec![
            ("package.json".into(), package),
            ("app.js".into(), render(template::JS_APP, &[])?),
            self.config(&format!("{}.wasm", self.name))?,
            self.test_file()?,
            (".gitignore".into(), render(template::JS_GITIGNORE, &[])?),
        ];
        files.extend(Self::wit_files());
        Ok(files)
    }

    /// A Python project, built with `componentize-py` from the contract.
    fn python_files(&self) -> anyhow::Result<Vec<(PathBuf, String)>> {
        let mut files = vec![
            ("app.py".into(), render(template::PYTHON_APP, &[])?),
            self.config(&format!("{}.wasm", self.name))?,
            self.test_file()?,
            (
                ".gitignore".into(),
                render(template::PYTHON_GITIGNORE, &[])?,
            ),
        ];
        files.extend(Self::wit_files());
        Ok(files)
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
            s3plug_host::Config::load(&root.join("s3plug.toml")).unwrap();
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
    fn every_template_renders_with_no_placeholder_left() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            let project = NewProject {
                name: "p-1".into(),
                lang,
                dir: PathBuf::new(),
                sdk: default_sdk_path(),
            };
            for (path, text) in project.files().unwrap() {
                let left = text
                    .match_indices("{{")
                    .find_map(|(at, _)| template::placeholder(&text[at..]));
                assert_eq!(left, None, "{lang:?} {}", path.display());
                // The only double braces left are the JSON in the Rust and Python sources.
                let json = text.matches("{{\"bytes\"").count();
                assert_eq!(
                    text.matches("{{").count(),
                    json,
                    "{lang:?} {}",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn the_tests_install_the_componentize_js_that_projects_use() {
        let script = include_str!("../../../../scripts/install-test-deps");
        assert!(
            script.contains(&format!(
                "COMPONENTIZE_JS_VERSION={COMPONENTIZE_JS_VERSION}\n"
            )),
            "scripts/install-test-deps pins another componentize-js"
        );
    }
}
