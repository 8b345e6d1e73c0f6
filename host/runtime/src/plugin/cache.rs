//! Compiled plugins, cached on disk so that a process start does not compile them again.
//!
//! Compiling a component with cranelift takes tens of milliseconds to seconds; loading the
//! compiled form takes microseconds. Entries are named after the SHA-256 of the component
//! and a hash of the engine configuration, so a changed plugin or engine never loads a stale
//! entry; an entry wasmtime refuses (another version) is compiled again and replaced.
//!
//! Every rebuild of a plugin adds an entry, so the folder is kept under a size cap: past it,
//! the least recently used entries are removed (a hit refreshes an entry's mtime).

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use wasmtime::Engine;
use wasmtime::component::Component;

/// How a plugin's code was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadKind {
    /// Compiled from the `.wasm` now.
    Compiled,
    /// Loaded from the compile cache.
    Cached,
    /// Loaded from a precompiled artifact named in the config (`s3plug compile`).
    Precompiled,
}

impl LoadKind {
    /// The name it has in logs and metrics, as it is serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadKind::Compiled => "compiled",
            LoadKind::Cached => "cached",
            LoadKind::Precompiled => "precompiled",
        }
    }
}

/// Default cap on the compiled entries of the cache folder, in bytes (2 GiB). A compiled
/// plugin takes from about 1 MiB (Rust) to some tens of MiB (JavaScript, Python), so this
/// keeps dozens of builds while bounding a long-lived host's disk use. Risk: below the size
/// of the plugins of one config, each start evicts entries the next start needs and
/// compiles them again (slower starts, never wrong code); the entry just written is kept
/// even when it alone exceeds the cap.
pub(crate) const DEFAULT_CACHE_MAX_BYTES: u64 = 2 << 30;

/// A folder of compiled plugins.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl CompileCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: DEFAULT_CACHE_MAX_BYTES,
        }
    }

    /// The same cache with another cap on its compiled entries, in bytes.
    #[cfg(test)]
    pub(crate) fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// `S3PLUG_CACHE_DIR` if set (empty turns the cache off); `/tmp/s3plug-cache` on Lambda,
    /// whose only writable folder is `/tmp`; else the user's cache folder.
    pub fn from_env() -> Option<Self> {
        if let Some(dir) = std::env::var_os("S3PLUG_CACHE_DIR") {
            return (!dir.is_empty()).then(|| Self::new(dir));
        }
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            return Some(Self::new("/tmp/s3plug-cache"));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
        Some(Self::new(base.join("s3plug")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        let mut engine_hash = DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let hex = crate::digest::sha256_hex(wasm);
        self.dir
            .join(format!("{hex}-{:016x}.cwasm", engine_hash.finish()))
    }

    /// Loads a component from the cache, or compiles it and stores it there.
    pub fn component(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, LoadKind)> {
        let entry = self.entry(engine, wasm);
        if entry.is_file() {
            match deserialize(engine, &entry) {
                Ok(component) => {
                    touch(&entry);
                    return Ok((component, LoadKind::Cached));
                }
                Err(err) => {
                    tracing::debug!(entry = %entry.display(), "cache entry refused, compiling again: {err}")
                }
            }
        }
        let compiled = engine.precompile_component(wasm)?;
        match write_atomically(&entry, &compiled) {
            Ok(()) => self.evict(&entry),
            Err(err) => {
                tracing::warn!(dir = %self.dir.display(), "cannot write the compile cache: {err}")
            }
        }
        Ok((deserialize_fresh(engine, &compiled)?, LoadKind::Compiled))
    }

    /// Removes the least recently used entries until the entries fit the cap, never `keep`
    /// (the entry just written). Failures only cost a compile later, so they are logged.
    fn evict(&self, keep: &Path) {
        let mut entries = match self.entries() {
            Ok(entries) => entries,
            Err(err) => {
                tracing::warn!(dir = %self.dir.display(), "cannot list the compile cache: {err}");
                return;
            }
        };
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        if total <= self.max_bytes {
            return;
        }
        entries.sort_by(|a, b| a.used.cmp(&b.used).then_with(|| a.path.cmp(&b.path)));
        for entry in entries {
            if total <= self.max_bytes {
                break;
            }
            if entry.path == keep {
                continue;
            }
            match fs::remove_file(&entry.path) {
                Ok(()) => {
                    total = total.saturating_sub(entry.size);
                    tracing::debug!(entry = %entry.path.display(), bytes = entry.size, "compile cache entry evicted");
                }
                // Another process evicted it first.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    total = total.saturating_sub(entry.size);
                }
                Err(err) => {
                    tracing::warn!(entry = %entry.path.display(), "cannot evict a compile cache entry: {err}")
                }
            }
        }
    }

    /// The compiled entries of the folder (not the downloads under `plugins/`, nor files
    /// still being written).
    fn entries(&self) -> std::io::Result<Vec<CacheEntry>> {
        let mut entries = Vec::new();
        for item in fs::read_dir(&self.dir)? {
            let item = item?;
            let name = item.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !name.ends_with(".cwasm") {
                continue;
            }
            let Ok(metadata) = item.metadata() else {
                continue;
            };
            if metadata.is_file() {
                entries.push(CacheEntry {
                    path: item.path(),
                    size: metadata.len(),
                    used: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
        Ok(entries)
    }
}

/// One compiled entry: its size and when it was last written or loaded.
#[derive(Debug)]
struct CacheEntry {
    path: PathBuf,
    size: u64,
    used: SystemTime,
}

/// Marks an entry as just used: eviction goes by mtime.
fn touch(path: &Path) {
    let result = fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now()));
    if let Err(err) = result {
        tracing::debug!(entry = %path.display(), "cannot mark a compile cache entry as used: {err}");
    }
}

/// Loads a compiled component from a file this host wrote.
#[expect(
    unsafe_code,
    reason = "loading compiled code is the point of the cache"
)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires the file to hold code it produced itself: cache entries are
    // written only by `CompileCache::component`, from `Engine::precompile_component`, and are
    // renamed into place whole; wasmtime checks the version and engine configuration in the
    // header and refuses a mismatch. The cache folder is as trusted as the host binary.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Loads code that `Engine::precompile_component` has just produced.
#[expect(
    unsafe_code,
    reason = "loading compiled code is the point of the cache"
)]
fn deserialize_fresh(engine: &Engine, compiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `compiled` comes straight from `Engine::precompile_component` of this engine.
    unsafe { Component::deserialize(engine, compiled) }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    // Unique per write: plugins load on several threads, and two may compile the same file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".tmp-{}-{n}-{name}", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

/// Loads a precompiled artifact named in the configuration.
#[expect(
    unsafe_code,
    reason = "loading precompiled plugins is what `s3plug compile` is for"
)]
pub(crate) fn deserialize_precompiled(
    engine: &Engine,
    bytes: &[u8],
) -> wasmtime::Result<Component> {
    // SAFETY: an artifact named in the configuration is trusted like the host binary: it is
    // shipped in the same deployment package (or pinned by `sha256`). wasmtime checks its
    // header against this engine's version and settings and refuses a mismatch.
    unsafe { Component::deserialize(engine, bytes) }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The smallest component: the preamble of the component binary format, layer 1.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    fn entry_file(dir: &Path, name: &str, size: usize, age_secs: u64) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, vec![0u8; size]).unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
            .unwrap();
        path
    }

    #[test]
    fn load_kinds_are_named_as_they_are_serialized() {
        for kind in [LoadKind::Compiled, LoadKind::Cached, LoadKind::Precompiled] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn the_least_recently_used_entries_go_first_and_the_new_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path()).with_max_bytes(250);
        let oldest = entry_file(dir.path(), "a-0.cwasm", 100, 300);
        let older = entry_file(dir.path(), "b-0.cwasm", 100, 200);
        let old = entry_file(dir.path(), "c-0.cwasm", 100, 100);
        // Not entries: a download folder and a file being written.
        fs::create_dir(dir.path().join("plugins")).unwrap();
        let download = entry_file(&dir.path().join("plugins"), "x.wasm", 1000, 400);
        let partial = entry_file(dir.path(), ".tmp-1-0-d-0.cwasm", 1000, 400);
        // The new entry is the oldest by mtime (a clock step, say) and still stays.
        let new = entry_file(dir.path(), "d-0.cwasm", 100, 1000);
        cache.evict(&new);
        assert!(new.is_file() && old.is_file());
        assert!(!oldest.exists() && !older.exists());
        assert!(download.is_file() && partial.is_file());
    }

    #[test]
    fn an_entry_alone_above_the_cap_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path()).with_max_bytes(10);
        let other = entry_file(dir.path(), "a-0.cwasm", 5, 100);
        let new = entry_file(dir.path(), "b-0.cwasm", 100, 0);
        cache.evict(&new);
        assert!(new.is_file() && !other.exists());
    }

    #[test]
    fn within_the_cap_nothing_is_evicted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path()).with_max_bytes(300);
        let a = entry_file(dir.path(), "a-0.cwasm", 100, 300);
        let b = entry_file(dir.path(), "b-0.cwasm", 100, 0);
        cache.evict(&b);
        assert!(a.is_file() && b.is_file());
    }

    #[test]
    fn a_hit_refreshes_the_entry_and_a_compile_evicts_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let (_, kind) = CompileCache::new(dir.path())
            .component(&engine, EMPTY_COMPONENT)
            .unwrap();
        assert_eq!(kind, LoadKind::Compiled);
        let entries = CompileCache::new(dir.path()).entries().unwrap();
        let [compiled] = entries.as_slice() else {
            panic!("one entry: {entries:?}");
        };
        // An older entry of the same size, then a hit on the compiled one: the older
        // entry is now the least recently used.
        let stale = dir.path().join("0-0.cwasm");
        fs::copy(&compiled.path, &stale).unwrap();
        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for path in [&compiled.path, &stale] {
            let file = fs::File::options().write(true).open(path).unwrap();
            file.set_modified(an_hour_ago).unwrap();
        }
        // Room for two and a half entries (the next one may be a little larger).
        let cache = CompileCache::new(dir.path()).with_max_bytes(compiled.size * 5 / 2);
        let (_, kind) = cache.component(&engine, EMPTY_COMPONENT).unwrap();
        assert_eq!(kind, LoadKind::Cached);
        let used = fs::metadata(&compiled.path).unwrap().modified().unwrap();
        assert!(used > an_hour_ago + Duration::from_secs(60));
        // Another component (a custom section "x" added) makes a third entry: the stale
        // one goes, the one just used and the new one stay.
        let other = [EMPTY_COMPONENT, &[0x00, 0x02, 0x01, b'x']].concat();
        let (_, kind) = cache.component(&engine, &other).unwrap();
        assert_eq!(kind, LoadKind::Compiled);
        let left: Vec<PathBuf> = cache
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left.contains(&compiled.path) && !left.contains(&stale));
    }
}
