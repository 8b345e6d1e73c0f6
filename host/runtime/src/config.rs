//! The configuration file: which plugins run, on what, with which grants and limits.
//!
//! ```toml
//! [[plugin]]
//! name = "thumbnail"
//! wasm = "plugins/thumbnail.wasm"   # relative to this file
//! trigger = { bucket = "photos", prefix = "incoming/", suffix = ".jpg", events = ["s3:ObjectCreated:*"] }
//! read = ["photos/incoming/"]
//! write = ["photos-thumbs/"]
//! limits = { timeout_ms = 3000, memory_mib = 128, max_writes = 4 }
//! config = { target_bucket = "photos-thumbs", max_width = 200 }
//! ```
//!
//! Every key is checked: an unknown key or a bad value is an error that names the plugin, the
//! key and the line.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::grant::{Grant, Grants, valid_bucket_name};
use crate::route::{EventPattern, Trigger};

/// A configuration that was read and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    pub host: HostSettings,
    pub plugins: Vec<PluginSpec>,
}

/// Settings of the host itself (`[host]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSettings {
    /// How many (record, plugin) calls of one event run at once.
    pub concurrency: usize,
    /// Where the host keeps its own small state objects (the markers of routes that skip
    /// duplicates): `bucket/prefix/`, which no trigger may match.
    pub state: Option<Grant>,
}

/// Default `[host] concurrency`: plugins mostly wait on S3, so more than the core count.
pub(crate) const DEFAULT_CONCURRENCY: usize = 8;

impl Default for HostSettings {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            state: None,
        }
    }
}

/// Where a plugin's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// A file: in the deployment package, a Lambda layer (`/opt/...`), or anywhere local.
    /// Relative paths are resolved against the config file's folder.
    File(PathBuf),
    /// An object, `s3://bucket/key`, fetched through the host's store at load.
    S3 { bucket: String, key: String },
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::File(path) => write!(f, "{}", path.display()),
            PluginSource::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// One `[[plugin]]` entry, checked.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    pub name: String,
    /// The component.
    pub wasm: PluginSource,
    /// The SHA-256 the component must have (lower-case hex); a mismatch refuses the plugin.
    pub sha256: Option<String>,
    pub trigger: Trigger,
    pub grants: Grants,
    pub limits: Limits,
    /// The plugin's own settings, served by the `config` import.
    pub config: BTreeMap<String, String>,
    /// Skip a record already processed (same version and sequencer) or older by sequencer
    /// than one already processed, using marker objects under `[host] state`.
    pub skip_duplicates: bool,
    /// Set: the plugin may take part in a write cycle (itself included), and a record whose
    /// object is this many s3plug writes deep is stopped (`loop-stopped`). Unset: any cycle
    /// through the plugin is a config error, and writes onto its own trigger are denied.
    pub max_depth: Option<u32>,
}

/// What one (record, plugin) call may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time of the call, wherever it waits (guest code, a WASI sleep, an object
    /// call): guest code yields at every epoch tick, so it may overrun by up to one tick
    /// (10 ms) plus the time to cancel.
    pub timeout: Duration,
    /// Linear memory of the instance, in bytes. A grow beyond it fails and the call fails.
    pub memory_bytes: usize,
    /// Object mutations (put, create, copy, delete) per record.
    pub max_writes: u32,
    /// Log lines per record; further lines are dropped and counted.
    pub max_log_lines: u32,
    /// Bytes of log text per record; further lines are dropped and counted.
    pub max_log_bytes: u64,
    /// Bytes written per record (put bodies, streamed writes, copies).
    pub max_write_bytes: u64,
    /// Bytes read per record.
    pub max_read_bytes: u64,
    /// Object calls (head, get, put, create, list, copy, delete) per record.
    pub max_calls: u32,
    /// Readers and writers open at once: each may hold a file or a connection, which the
    /// records of an event share (Lambda allows 1024 descriptors).
    pub max_open: u32,
}

/// The defaults of `limits`, chosen for image-sized work: a decoded 12-megapixel photo
/// needs about 48 MiB, and a resize twice that.
pub(crate) const DEFAULT_LIMITS: Limits = Limits {
    timeout: Duration::from_secs(10),
    memory_bytes: 256 << 20,
    max_writes: 16,
    max_log_lines: 1000,
    max_log_bytes: 256 << 10,
    max_write_bytes: 5 << 30,
    max_read_bytes: 50 << 30,
    max_calls: 10_000,
    // A real plugin holds one or two at once; eight calls of an event at the default still
    // stay under half of Lambda's 1024 descriptors.
    max_open: 64,
};

const TIMEOUT_MS: RangeInclusive<u64> = 1..=900_000;
const MEMORY_MIB: RangeInclusive<u64> = 1..=4096;
const MAX_WRITES: RangeInclusive<u64> = 0..=100_000;
const MAX_LOG_LINES: RangeInclusive<u64> = 0..=1_000_000;
const MAX_LOG_BYTES: RangeInclusive<u64> = 0..=(64 << 20);
const MAX_BYTES: RangeInclusive<u64> = 0..=(5 << 40);
const MAX_CALLS: RangeInclusive<u64> = 1..=10_000_000;
const MAX_OPEN: RangeInclusive<u64> = 1..=4096;
const MAX_DEPTH: RangeInclusive<u64> = 1..=16;
const CONCURRENCY: RangeInclusive<u64> = 1..=1024;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path:?}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {plugin}{message}")]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        plugin: String,
        message: String,
    },
    #[error("{path}: plugin {plugin:?}: key {key:?}: {message}")]
    Invalid {
        path: String,
        plugin: String,
        key: String,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    host: HostEntry,
    #[serde(default)]
    plugin: Vec<PluginEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostEntry {
    concurrency: Option<u64>,
    state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginEntry {
    name: String,
    wasm: String,
    sha256: Option<String>,
    trigger: TriggerEntry,
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
    #[serde(default)]
    limits: LimitsEntry,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
    max_depth: Option<u64>,
    #[serde(default)]
    skip_duplicates: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerEntry {
    bucket: String,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    suffix: String,
    events: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsEntry {
    timeout_ms: Option<u64>,
    memory_mib: Option<u64>,
    max_writes: Option<u64>,
    max_log_lines: Option<u64>,
    max_log_bytes: Option<ByteSize>,
    max_write_bytes: Option<ByteSize>,
    max_read_bytes: Option<ByteSize>,
    max_calls: Option<u64>,
    max_open: Option<u64>,
}

/// A size in bytes: a number, or a string with a unit (`"64MiB"`, `"1 GiB"`, `"512KiB"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ByteSize {
    Bytes(u64),
    Text(String),
}

impl ByteSize {
    fn bytes(&self) -> Result<u64, String> {
        let text = match self {
            ByteSize::Bytes(n) => return Ok(*n),
            ByteSize::Text(text) => text.trim(),
        };
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a size such as \"64MiB\""))?;
        let shift = match unit.trim() {
            "" | "B" => 0,
            "KiB" => 10,
            "MiB" => 20,
            "GiB" => 30,
            "TiB" => 40,
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {text:?}: use B, KiB, MiB, GiB or TiB"
                ));
            }
        };
        number
            .checked_mul(1 << shift)
            .ok_or_else(|| format!("{text:?} is too large"))
    }
}

/// Events a trigger without `events` reacts to.
pub(crate) const DEFAULT_EVENTS: &str = "s3:ObjectCreated:*";

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base).map(|mut config| {
            config.path = path.to_owned();
            config
        })
    }

    /// Checks a configuration given as text; relative `wasm` paths are resolved against
    /// `base`. `origin` names the text in error messages.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Self, ConfigError> {
        let file: ConfigFile =
            toml::from_str(text).map_err(|err| syntax_error(text, origin, &err))?;
        let invalid = |plugin: &str, key: &str, message: String| ConfigError::Invalid {
            path: origin.to_owned(),
            plugin: plugin.to_owned(),
            key: key.to_owned(),
            message,
        };
        let concurrency = match file.host.concurrency {
            Some(value) => in_range(value, CONCURRENCY).map_err(|message| ConfigError::File {
                path: origin.to_owned(),
                message: format!("key \"host.concurrency\": {message}"),
            })? as usize,
            None => DEFAULT_CONCURRENCY,
        };
        let mut plugins: Vec<PluginSpec> = Vec::with_capacity(file.plugin.len());
        for entry in file.plugin {
            let name = entry.name.clone();
            if !valid_plugin_name(&name) {
                return Err(invalid(
                    &name,
                    "name",
                    "use 1 to 64 of a-z, 0-9, - and _".to_owned(),
                ));
            }
            if plugins.iter().any(|p| p.name == name) {
                return Err(invalid(
                    &name,
                    "name",
                    "two plugins have this name".to_owned(),
                ));
            }
            let spec =
                check_entry(entry, base).map_err(|(key, message)| invalid(&name, &key, message))?;
            plugins.push(spec);
        }
        if plugins.is_empty() {
            return Err(ConfigError::File {
                path: origin.to_owned(),
                message: "no [[plugin]] entries: nothing would run".to_owned(),
            });
        }
        let state = match &file.host.state {
            Some(text) => Some(text.parse::<Grant>().map_err(|message| ConfigError::File {
                path: origin.to_owned(),
                message: format!("key \"host.state\": {message}"),
            })?),
            None => None,
        };
        for plugin in &plugins {
            let file_error = |message: String| ConfigError::File {
                path: origin.to_owned(),
                message,
            };
            if plugin.skip_duplicates && state.is_none() {
                return Err(file_error(format!(
                    "plugin {:?}: key \"skip_duplicates\" needs [host] state = \"bucket/prefix/\" for its markers",
                    plugin.name
                )));
            }
            if let Some(state) = state
                .as_ref()
                .filter(|s| crate::guard::grant_triggers(s, &plugin.trigger))
            {
                return Err(file_error(format!(
                    "key \"host.state\": the host's state objects under {state} would trigger plugin {:?}",
                    plugin.name
                )));
            }
        }
        check_protected_writes(&plugins, state.as_ref()).map_err(|message| ConfigError::File {
            path: origin.to_owned(),
            message,
        })?;
        let graph = crate::guard::check_cycles(&plugins).map_err(|err| ConfigError::File {
            path: origin.to_owned(),
            message: err.to_string(),
        })?;
        crate::guard::check_tombstones(&graph, state.as_ref()).map_err(|err| {
            ConfigError::File {
                path: origin.to_owned(),
                message: err.to_string(),
            }
        })?;
        Ok(Self {
            path: PathBuf::from(origin),
            host: HostSettings { concurrency, state },
            plugins,
        })
    }
}

/// Refuses write grants that reach what the host trusts: the code of a plugin loaded from a
/// bucket, and the host's own state. Plugins write through their grants only, so a grant
/// that cannot hold these keys keeps them out of any plugin's reach.
fn check_protected_writes(plugins: &[PluginSpec], state: Option<&Grant>) -> Result<(), String> {
    for writer in plugins {
        for grant in &writer.grants.write {
            for owner in plugins {
                // The host loads exactly this object: an `s3://` `.cwasm` has no `.wasm`
                // fallback beside it (that is only for files), so nothing else is code.
                let PluginSource::S3 { bucket, key } = &owner.wasm else {
                    continue;
                };
                if grant.covers(bucket, key) {
                    let (whose, what) = if owner.name == writer.name {
                        ("its own code".to_owned(), "its own")
                    } else {
                        (format!("the code of plugin {:?}", owner.name), "another's")
                    };
                    return Err(format!(
                        "plugin {:?} may write {}, {whose}, through its write grant \"{grant}\": \
                         a plugin could replace {what} code",
                        writer.name, owner.wasm,
                    ));
                }
            }
            if let Some(state) = state.filter(|s| {
                s.bucket == grant.bucket && crate::guard::prefixes_overlap(&s.prefix, &grant.prefix)
            }) {
                // The keys both can hold: those under the longer prefix.
                let reached = if grant.prefix.len() > state.prefix.len() {
                    grant
                } else {
                    state
                };
                return Err(format!(
                    "plugin {:?} may write {reached}, the host's state ([host] state), through \
                     its write grant \"{grant}\": a plugin could forge duplicate markers or loop \
                     tombstones",
                    writer.name,
                ));
            }
        }
    }
    Ok(())
}

/// The refusal of precompiled code from a bucket without a `sha256` pin: wasmtime runs a
/// precompiled artifact as native code, without validating it, so whoever can write the
/// object could run anything in the host.
pub(crate) fn unpinned_precompiled(source: &PluginSource) -> String {
    format!(
        "{source} is precompiled native code from a bucket and has no sha256: add sha256 = \
         \"<its SHA-256>\" to pin it, or ship it in the deployment package"
    )
}

fn valid_plugin_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks one entry; an error is (key, message).
fn check_entry(entry: PluginEntry, base: &Path) -> Result<PluginSpec, (String, String)> {
    let wasm = plugin_source(&entry.wasm, base).map_err(|message| ("wasm".to_owned(), message))?;
    let sha256 = match &entry.sha256 {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(hex.to_ascii_lowercase())
        }
        Some(hex) => {
            return Err((
                "sha256".into(),
                format!("{hex:?} is not 64 hexadecimal digits"),
            ));
        }
        None => None,
    };
    if let PluginSource::S3 { key, .. } = &wasm
        && sha256.is_none()
        && Path::new(key)
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("cwasm"))
    {
        return Err(("wasm".into(), unpinned_precompiled(&wasm)));
    }
    let trigger = &entry.trigger;
    if !valid_bucket_name(&trigger.bucket) {
        return Err((
            "trigger.bucket".into(),
            format!("{:?} is not a valid bucket name", trigger.bucket),
        ));
    }
    let event_texts = trigger
        .events
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_EVENTS.to_owned()]);
    if event_texts.is_empty() {
        return Err((
            "trigger.events".into(),
            "is empty: the plugin would never run".into(),
        ));
    }
    let events = event_texts
        .iter()
        .map(|text| EventPattern::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| ("trigger.events".to_owned(), message))?;
    let grants = |key: &str, list: &[String]| {
        list.iter()
            .map(|g| g.parse::<Grant>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| (key.to_owned(), m))
    };
    let limits = &entry.limits;
    let limit =
        |key: &str, value: Option<u64>, range: RangeInclusive<u64>, default: u64| match value {
            Some(value) => in_range(value, range).map_err(|m| (format!("limits.{key}"), m)),
            None => Ok(default),
        };
    let limits = Limits {
        timeout: Duration::from_millis(limit(
            "timeout_ms",
            limits.timeout_ms,
            TIMEOUT_MS,
            DEFAULT_LIMITS.timeout.as_millis() as u64,
        )?),
        memory_bytes: (limit(
            "memory_mib",
            limits.memory_mib,
            MEMORY_MIB,
            (DEFAULT_LIMITS.memory_bytes >> 20) as u64,
        )? << 20) as usize,
        max_writes: limit(
            "max_writes",
            limits.max_writes,
            MAX_WRITES,
            DEFAULT_LIMITS.max_writes.into(),
        )? as u32,
        max_log_lines: limit(
            "max_log_lines",
            limits.max_log_lines,
            MAX_LOG_LINES,
            DEFAULT_LIMITS.max_log_lines.into(),
        )? as u32,
        max_log_bytes: size_limit(
            "max_log_bytes",
            &limits.max_log_bytes,
            MAX_LOG_BYTES,
            DEFAULT_LIMITS.max_log_bytes,
        )?,
        max_write_bytes: size_limit(
            "max_write_bytes",
            &limits.max_write_bytes,
            MAX_BYTES,
            DEFAULT_LIMITS.max_write_bytes,
        )?,
        max_read_bytes: size_limit(
            "max_read_bytes",
            &limits.max_read_bytes,
            MAX_BYTES,
            DEFAULT_LIMITS.max_read_bytes,
        )?,
        max_calls: limit(
            "max_calls",
            limits.max_calls,
            MAX_CALLS,
            DEFAULT_LIMITS.max_calls.into(),
        )? as u32,
        max_open: limit(
            "max_open",
            limits.max_open,
            MAX_OPEN,
            DEFAULT_LIMITS.max_open.into(),
        )? as u32,
    };
    let max_depth = match entry.max_depth {
        Some(depth) => {
            Some(in_range(depth, MAX_DEPTH).map_err(|m| ("max_depth".to_owned(), m))? as u32)
        }
        None => None,
    };
    let mut config = BTreeMap::new();
    for (key, value) in entry.config {
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Datetime(d) => d.to_string(),
            toml::Value::Array(_) | toml::Value::Table(_) => {
                return Err((
                    format!("config.{key}"),
                    "must be a string, number or boolean".into(),
                ));
            }
        };
        config.insert(key, text);
    }
    Ok(PluginSpec {
        name: entry.name,
        wasm,
        sha256,
        trigger: Trigger {
            bucket: entry.trigger.bucket,
            prefix: entry.trigger.prefix,
            suffix: entry.trigger.suffix,
            events,
        },
        grants: Grants {
            read: grants("read", &entry.read)?,
            write: grants("write", &entry.write)?,
        },
        limits,
        config,
        max_depth,
        skip_duplicates: entry.skip_duplicates,
    })
}

fn plugin_source(text: &str, base: &Path) -> Result<PluginSource, String> {
    if text.is_empty() {
        return Err("is empty".into());
    }
    let Some(location) = text.strip_prefix("s3://") else {
        return Ok(PluginSource::File(base.join(text)));
    };
    let (bucket, key) = location.split_once('/').unwrap_or((location, ""));
    if !valid_bucket_name(bucket) {
        return Err(format!("{text:?}: {bucket:?} is not a valid bucket name"));
    }
    crate::store::check_key(key).map_err(|why| format!("{text:?}: {why}"))?;
    Ok(PluginSource::S3 {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    })
}

fn size_limit(
    key: &str,
    value: &Option<ByteSize>,
    range: RangeInclusive<u64>,
    default: u64,
) -> Result<u64, (String, String)> {
    let key = format!("limits.{key}");
    match value {
        Some(size) => {
            let bytes = size.bytes().map_err(|m| (key.clone(), m))?;
            in_range(bytes, range).map_err(|m| (key, m))
        }
        None => Ok(default),
    }
}

fn in_range(value: u64, range: RangeInclusive<u64>) -> Result<u64, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "must be between {} and {}, got {value}",
            range.start(),
            range.end()
        ))
    }
}

/// Turns a TOML error into one line with its position and, when it sits inside a
/// `[[plugin]]` entry, that plugin's name.
fn syntax_error(text: &str, origin: &str, err: &toml::de::Error) -> ConfigError {
    let offset = err.span().map_or(0, |span| span.start);
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    ConfigError::Syntax {
        path: origin.to_owned(),
        line,
        column,
        plugin: enclosing_plugin(text, offset)
            .map(|name| format!("plugin {name:?}: "))
            .unwrap_or_default(),
        message: err.message().trim().to_owned(),
    }
}

/// The name of the `[[plugin]]` entry that contains `offset`, found in the text itself so
/// that it works even when the entry is malformed.
fn enclosing_plugin(text: &str, offset: usize) -> Option<String> {
    let mut start = 0;
    let mut current: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        if start > offset {
            break;
        }
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            current = (trimmed.replace(' ', "") == "[[plugin]]").then_some(start);
        }
        start += line.len();
    }
    let entry = &text[current?..];
    entry
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().starts_with('['))
        .find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "name").then(|| value.trim().trim_matches('"').to_owned())
        })
}

#[cfg(test)]
mod tests;
