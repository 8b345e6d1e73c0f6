//! Compiled plugins, cached on disk so that a process start does not compile them again.
//!
//! Compiling a component with cranelift takes tens of milliseconds to seconds; loading the
//! compiled form takes microseconds. Entries are named after the SHA-256 of the component
//! and a hash of the engine configuration, so a changed plugin or engine never loads a stale
//! entry; an entry wasmtime refuses (another version) is compiled again and replaced.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// A folder of compiled plugins.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
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
        let hex = crate::hex::sha256_hex(wasm);
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
                Ok(component) => return Ok((component, LoadKind::Cached)),
                Err(err) => {
                    tracing::debug!(entry = %entry.display(), "cache entry refused, compiling again: {err}")
                }
            }
        }
        let compiled = engine.precompile_component(wasm)?;
        if let Err(err) = write_atomically(&entry, &compiled) {
            tracing::warn!(dir = %self.dir.display(), "cannot write the compile cache: {err}");
        }
        Ok((deserialize_fresh(engine, &compiled)?, LoadKind::Compiled))
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
