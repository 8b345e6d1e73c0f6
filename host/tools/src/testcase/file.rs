//! The test file: read and checked whole before anything runs, so that a mistake in it is
//! reported with its line (exit 2), never as a failing case.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;
use serde::Deserialize;
use toml::Spanned;

use super::events::{
    Body, DEFAULT_REGION, EventInput, RecordSpec, Seed, generated_bytes, removes_object,
};
use super::expect::{
    Content, DenialExpectation, Expectations, LEVELS, LogExpectation, OPERATIONS, OUTCOMES,
    ObjectExpectation, OutcomeExpectation, REASONS, STATUSES,
};
use super::inline_config::config_text;
use crate::eventgen::ObjectAction;
use s3plug_host::StartError;
use s3plug_host::config::{Config, ConfigError};
use s3plug_host::grant::valid_bucket_name;
use s3plug_host::plugin::CompileCache;

/// The largest object `bytes = N` generates: generated objects live in memory, once per
/// case.
const MAX_GENERATED_BYTES: u64 = 1 << 30;

/// Why a test file could not be run.
#[derive(Debug, thiserror::Error)]
pub enum TestFileError {
    #[error("cannot read test file {path:?}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed, but wrong: a missing file, two bodies for one object, an unknown status.
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
    /// The plugin setup, inline or in the `config` file, was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The plugins did not load, or the engine did not start.
    #[error("{path}")]
    Start { path: String, source: StartError },
    #[error("{path}: cannot start a runtime")]
    Runtime {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: cannot seed the store: {message}")]
    Store { path: String, message: String },
}

/// A test file, checked: the plugin setup, the seeded objects and the cases.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: PathBuf,
    /// The plugin setup every case runs with.
    pub config: Config,
    pub(crate) seeds: Vec<Seed>,
    pub cases: Vec<Case>,
    /// Where compiled plugins are kept between runs.
    pub(crate) cache: Option<CompileCache>,
}

/// One `[[case]]`.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// Where it starts in the test file.
    pub line: usize,
    pub(crate) events: Vec<EventInput>,
    pub(crate) follow_writes: bool,
    pub(crate) expect: Expectations,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    config: Option<Spanned<String>>,
    /// Checked by the config parser.
    host: Option<toml::Table>,
    /// Checked by the config parser.
    #[serde(default)]
    plugin: Vec<toml::Table>,
    #[serde(default)]
    object: Vec<Spanned<SeedEntry>>,
    #[serde(default)]
    case: Vec<Spanned<CaseEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedEntry {
    bucket: String,
    key: String,
    text: Option<String>,
    file: Option<String>,
    bytes: Option<u64>,
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseEntry {
    name: String,
    events: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    follow_writes: bool,
    #[serde(default)]
    outcome: Vec<Spanned<OutcomeExpectation>>,
    #[serde(default)]
    object: Vec<Spanned<ObjectEntry>>,
    #[serde(default)]
    denial: Vec<Spanned<DenialExpectation>>,
    #[serde(default)]
    log: Vec<Spanned<LogExpectation>>,
}

/// One entry of `events` written as a table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventEntry {
    action: Option<String>,
    bucket: Option<String>,
    key: Option<String>,
    size: Option<u64>,
    region: Option<String>,
    text: Option<String>,
    file: Option<String>,
    bytes: Option<u64>,
    content_type: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    records: Option<Vec<toml::Value>>,
    event: Option<String>,
    json: Option<String>,
}

impl EventEntry {
    /// Whether any key of the shorthand form is set.
    fn has_shorthand_keys(&self) -> bool {
        self.action.is_some()
            || self.bucket.is_some()
            || self.key.is_some()
            || self.size.is_some()
            || self.region.is_some()
            || self.text.is_some()
            || self.file.is_some()
            || self.bytes.is_some()
            || self.content_type.is_some()
            || self.metadata.is_some()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectEntry {
    bucket: String,
    key: String,
    exists: Option<bool>,
    text: Option<String>,
    file: Option<String>,
    sha256: Option<String>,
    size: Option<u64>,
    content_type: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
}

impl TestFile {
    /// Reads and checks a test file; relative paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Self, TestFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TestFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut file = Self::parse(&text, &path.display().to_string(), base)?;
        file.path = path.to_owned();
        Ok(file)
    }

    /// Checks a test file given as text. `origin` names it in errors; relative paths are
    /// resolved against `base`.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Self, TestFileError> {
        let reader = Reader { text, origin, base };
        let entry: FileEntry = toml::from_str(text).map_err(|err| reader.syntax(&err))?;
        let config = reader.config(&entry)?;
        let plugins: BTreeSet<&str> = config.plugins.iter().map(|p| p.name.as_str()).collect();
        let seeds = entry
            .object
            .iter()
            .map(|seed| reader.seed(seed))
            .collect::<Result<Vec<_>, _>>()?;
        if entry.case.is_empty() {
            return Err(reader.invalid(0..0, "no [[case]] entries: nothing would be tested"));
        }
        let mut cases: Vec<Case> = Vec::with_capacity(entry.case.len());
        for case in &entry.case {
            let case = reader.case(case, &plugins)?;
            if let Some(first) = cases.iter().find(|c| c.name == case.name) {
                return Err(TestFileError::Invalid {
                    path: origin.to_owned(),
                    line: case.line,
                    message: format!(
                        "case {:?}: another case (line {}) has this name",
                        case.name, first.line
                    ),
                });
            }
            cases.push(case);
        }
        Ok(Self {
            path: PathBuf::from(origin),
            config,
            seeds,
            cases,
            cache: CompileCache::from_env(),
        })
    }
}

/// Reads the parts of one test file, with what errors need to name lines.
struct Reader<'a> {
    text: &'a str,
    origin: &'a str,
    base: &'a Path,
}

impl Reader<'_> {
    fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn invalid(&self, span: Range<usize>, message: impl Into<String>) -> TestFileError {
        TestFileError::Invalid {
            path: self.origin.to_owned(),
            line: self.line(span.start),
            message: message.into(),
        }
    }

    fn syntax(&self, err: &toml::de::Error) -> TestFileError {
        let offset = err.span().map_or(0, |span| span.start).min(self.text.len());
        let before = &self.text[..offset];
        TestFileError::Syntax {
            path: self.origin.to_owned(),
            line: self.line(offset),
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            message: err.message().trim().to_owned(),
        }
    }

    /// The plugin setup: inline `[host]` and `[[plugin]]` tables, or a `config` file.
    fn config(&self, entry: &FileEntry) -> Result<Config, TestFileError> {
        let inline = entry.host.is_some() || !entry.plugin.is_empty();
        match &entry.config {
            Some(path) if inline => Err(self.invalid(
                path.span(),
                "give either `config` or inline [host] and [[plugin]] tables, not both",
            )),
            Some(path) => Ok(Config::load(&self.base.join(path.get_ref()))?),
            None if inline => Ok(Config::parse(
                &config_text(self.text),
                self.origin,
                self.base,
            )?),
            None => Err(self.invalid(
                0..0,
                "no plugins: add [[plugin]] tables as in s3plug.toml, or `config = \"path/to/s3plug.toml\"`",
            )),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.base.join(name)
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self.path(name);
        std::fs::read(&path).map_err(|err| format!("cannot read {:?}: {err}", path.display()))
    }

    /// An object's body from `text`, `file` or `bytes`; `None` when none is given.
    fn body(
        &self,
        text: &Option<String>,
        file: &Option<String>,
        bytes: Option<u64>,
        content_type: &Option<String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Option<Body>, String> {
        let content: Vec<u8> = match (text, file, bytes) {
            (None, None, None) => {
                if content_type.is_some() || !metadata.is_empty() {
                    return Err(
                        "content_type and metadata need a body: text, file or bytes".to_owned()
                    );
                }
                return Ok(None);
            }
            (Some(text), None, None) => text.clone().into_bytes(),
            (None, Some(file), None) => self.read(file)?,
            (None, None, Some(len)) if len <= MAX_GENERATED_BYTES => generated_bytes(len as usize),
            (None, None, Some(len)) => {
                return Err(format!(
                    "bytes = {len}: at most {MAX_GENERATED_BYTES} bytes are generated"
                ));
            }
            _ => return Err("give one of text, file and bytes".to_owned()),
        };
        for name in metadata.keys() {
            if name.to_ascii_lowercase().starts_with("s3plug-") {
                return Err(format!(
                    "metadata {name:?}: s3plug-* metadata is the host's; seed the object as another writer would"
                ));
            }
        }
        Ok(Some(Body {
            bytes: Arc::from(content),
            content_type: content_type.clone(),
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }))
    }

    fn seed(&self, entry: &Spanned<SeedEntry>) -> Result<Seed, TestFileError> {
        let fail = |message: String| self.invalid(entry.span(), format!("[[object]]: {message}"));
        let seed = entry.get_ref();
        check_object_name(&seed.bucket, &seed.key).map_err(fail)?;
        let body = self
            .body(
                &seed.text,
                &seed.file,
                seed.bytes,
                &seed.content_type,
                &seed.metadata,
            )
            .map_err(|m| fail(format!("{}/{}: {m}", seed.bucket, seed.key)))?
            .ok_or_else(|| {
                fail(format!(
                    "{}/{}: give its content as text, file or bytes",
                    seed.bucket, seed.key
                ))
            })?;
        Ok(Seed {
            bucket: seed.bucket.clone(),
            key: seed.key.clone(),
            body,
        })
    }

    fn case(
        &self,
        entry: &Spanned<CaseEntry>,
        plugins: &BTreeSet<&str>,
    ) -> Result<Case, TestFileError> {
        let line = self.line(entry.span().start);
        let case = entry.get_ref();
        let name = case.name.trim();
        let fail = |span: Range<usize>, message: String| {
            self.invalid(span, format!("case {name:?}: {message}"))
        };
        if name.is_empty() {
            return Err(fail(entry.span(), "the name is empty".to_owned()));
        }
        if case.events.is_empty() {
            return Err(fail(
                entry.span(),
                "`events` is empty: give at least one event".to_owned(),
            ));
        }
        let events = case
            .events
            .iter()
            .map(|event| {
                self.event(event.get_ref())
                    .map_err(|m| fail(event.span(), format!("events: {m}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let known_plugin = |plugin: &Option<String>| match plugin {
            Some(plugin) if !plugins.contains(plugin.as_str()) => Err(format!(
                "plugin {plugin:?} is not in the configuration (it has {})",
                plugins
                    .iter()
                    .map(|p| format!("{p:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => Ok(()),
        };
        let mut expect = Expectations::default();
        for outcome in &case.outcome {
            let mut expectation = outcome.get_ref().clone();
            expectation.line = self.line(outcome.span().start);
            known_plugin(&expectation.plugin)
                .and_then(|()| one_of("status", &expectation.status, STATUSES))
                .and_then(|()| one_of("outcome", &expectation.outcome, OUTCOMES))
                .and_then(|()| one_of("reason", &expectation.reason, REASONS))
                .map_err(|m| fail(outcome.span(), format!("[[case.outcome]]: {m}")))?;
            expect.outcomes.push(expectation);
        }
        for object in &case.object {
            let expectation = self
                .object_expectation(object.get_ref())
                .map_err(|m| fail(object.span(), format!("[[case.object]]: {m}")))?;
            expect.objects.push(ObjectExpectation {
                line: self.line(object.span().start),
                ..expectation
            });
        }
        for denial in &case.denial {
            let mut expectation = denial.get_ref().clone();
            expectation.line = self.line(denial.span().start);
            known_plugin(&expectation.plugin)
                .and_then(|()| one_of("operation", &expectation.operation, OPERATIONS))
                .map_err(|m| fail(denial.span(), format!("[[case.denial]]: {m}")))?;
            expect.denials.push(expectation);
        }
        for log in &case.log {
            let mut expectation = log.get_ref().clone();
            expectation.line = self.line(log.span().start);
            known_plugin(&expectation.plugin)
                .and_then(|()| one_of("level", &expectation.level, LEVELS))
                .map_err(|m| fail(log.span(), format!("[[case.log]]: {m}")))?;
            expect.logs.push(expectation);
        }
        Ok(Case {
            name: name.to_owned(),
            line,
            events,
            follow_writes: case.follow_writes,
            expect,
        })
    }

    /// One entry of `events`: `"put bucket/key"`, or a table.
    fn event(&self, value: &toml::Value) -> Result<EventInput, String> {
        let table = match value {
            toml::Value::String(text) => return Ok(EventInput::Records(vec![short_record(text)?])),
            toml::Value::Table(table) => table,
            other => {
                return Err(format!(
                    "an event is a string such as \"put bucket/key\" or a table, not a {}",
                    other.type_str()
                ));
            }
        };
        let entry: EventEntry = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|err: toml::de::Error| err.message().trim().to_owned())?;
        let forms = [
            entry.action.is_some(),
            entry.records.is_some(),
            entry.event.is_some(),
            entry.json.is_some(),
        ];
        let only_form = forms.iter().filter(|set| **set).count() == 1;
        let shorthand_alone = entry.action.is_some() || !entry.has_shorthand_keys();
        if !only_form || !shorthand_alone {
            return Err(
                "give one of action (with bucket and key), records, event (a JSON file) and json"
                    .to_owned(),
            );
        }
        if let Some(records) = &entry.records {
            if records.is_empty() {
                return Err("`records` is empty".to_owned());
            }
            return records
                .iter()
                .map(|record| self.record(record))
                .collect::<Result<Vec<_>, _>>()
                .map(EventInput::Records);
        }
        if let Some(file) = &entry.event {
            let bytes = self.read(file)?;
            let value: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|err| format!("{file:?} is not JSON: {err}"))?;
            return json_event(value).map_err(|m| format!("{file:?}: {m}"));
        }
        if let Some(json) = &entry.json {
            let value: serde_json::Value =
                serde_json::from_str(json).map_err(|err| format!("json is not JSON: {err}"))?;
            return json_event(value).map_err(|m| format!("json: {m}"));
        }
        self.record_entry(entry)
            .map(|r| EventInput::Records(vec![r]))
    }

    /// One entry of `records`: a string or a shorthand table.
    fn record(&self, value: &toml::Value) -> Result<RecordSpec, String> {
        match value {
            toml::Value::String(text) => short_record(text),
            toml::Value::Table(table) => {
                let entry: EventEntry = toml::Value::Table(table.clone())
                    .try_into()
                    .map_err(|err: toml::de::Error| err.message().trim().to_owned())?;
                if entry.records.is_some() || entry.event.is_some() || entry.json.is_some() {
                    return Err(
                        "a record of `records` is shorthand: action, bucket, key, ...".to_owned(),
                    );
                }
                self.record_entry(entry)
            }
            other => Err(format!(
                "a record is a string such as \"put bucket/key\" or a table, not a {}",
                other.type_str()
            )),
        }
    }

    fn record_entry(&self, entry: EventEntry) -> Result<RecordSpec, String> {
        let action = parse_action(entry.action.as_deref().unwrap_or_default())?;
        let (Some(bucket), Some(key)) = (entry.bucket, entry.key) else {
            return Err("a shorthand event needs bucket and key".to_owned());
        };
        check_object_name(&bucket, &key)?;
        let body = self.body(
            &entry.text,
            &entry.file,
            entry.bytes,
            &entry.content_type,
            &entry.metadata.unwrap_or_default(),
        )?;
        if body.is_some() && removes_object(action) {
            return Err(format!(
                "{:?} removes the object: it takes no text, file or bytes",
                entry.action.unwrap_or_default()
            ));
        }
        Ok(RecordSpec {
            action,
            bucket,
            key,
            size: entry.size,
            region: entry.region.unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            body,
        })
    }

    fn object_expectation(&self, entry: &ObjectEntry) -> Result<ObjectExpectation, String> {
        check_object_name(&entry.bucket, &entry.key)?;
        let exists = entry.exists.unwrap_or(true);
        let has_checks = entry.text.is_some()
            || entry.file.is_some()
            || entry.sha256.is_some()
            || entry.size.is_some()
            || entry.content_type.is_some()
            || entry.metadata.is_some();
        if !exists && has_checks {
            return Err("exists = false takes no other checks".to_owned());
        }
        let content = match (&entry.text, &entry.file) {
            (Some(_), Some(_)) => return Err("give text or file, not both".to_owned()),
            (Some(text), None) => Some(Content::Text(text.clone())),
            (None, Some(file)) => Some(Content::File {
                name: file.clone(),
                bytes: self.read(file)?,
            }),
            (None, None) => None,
        };
        let sha256 = match &entry.sha256 {
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(hex.to_ascii_lowercase())
            }
            Some(hex) => return Err(format!("sha256 {hex:?} is not 64 hexadecimal digits")),
            None => None,
        };
        Ok(ObjectExpectation {
            line: 0,
            bucket: entry.bucket.clone(),
            key: entry.key.clone(),
            exists,
            content,
            sha256,
            size: entry.size,
            content_type: entry.content_type.clone(),
            metadata: entry
                .metadata
                .iter()
                .flatten()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
        })
    }
}

/// `"put bucket/key"`: the action, then the object.
fn short_record(text: &str) -> Result<RecordSpec, String> {
    let usage = || {
        format!(
            "{text:?}: write an event as \"ACTION bucket/key\", such as \"put photos/in/a.jpg\""
        )
    };
    let (action, object) = text.trim().split_once(' ').ok_or_else(usage)?;
    let (bucket, key) = object.trim_start().split_once('/').ok_or_else(usage)?;
    let action = parse_action(action)?;
    check_object_name(bucket, key)?;
    Ok(RecordSpec {
        action,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        size: None,
        region: DEFAULT_REGION.to_owned(),
        body: None,
    })
}

/// An action as `s3plug event` takes it.
fn parse_action(text: &str) -> Result<ObjectAction, String> {
    ObjectAction::from_str(text, false).map_err(|_| {
        let names: Vec<String> = ObjectAction::value_variants()
            .iter()
            .filter_map(ValueEnum::to_possible_value)
            .map(|value| format!("{:?}", value.get_name()))
            .collect();
        format!("unknown action {text:?}: use {}", names.join(", "))
    })
}

/// A notification given as JSON: it must be an event the host decodes.
fn json_event(value: serde_json::Value) -> Result<EventInput, String> {
    s3plug_host::event::decode_value(value.clone()).map_err(|err| err.to_string())?;
    Ok(EventInput::Json(value))
}

fn check_object_name(bucket: &str, key: &str) -> Result<(), String> {
    if !valid_bucket_name(bucket) {
        return Err(format!("{bucket:?} is not a valid bucket name"));
    }
    s3plug_host::store::check_key(key)
}

/// Checks that a value, when given, is one of `allowed`.
fn one_of(key: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), String> {
    match value {
        Some(value) if !allowed.contains(&value.as_str()) => Err(format!(
            "{key} = {value:?}: use one of {}",
            allowed
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Ok(()),
    }
}
