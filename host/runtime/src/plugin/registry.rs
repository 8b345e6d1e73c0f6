//! Loading every plugin of a configuration once: compiled (or taken from the cache), linked,
//! and pre-instantiated, so that a record costs only a new store and an instantiation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Precompiled};

use super::CONTRACT;
use super::bindings::{Plugin, PluginPre};
use super::cache::{CompileCache, LoadKind};
use super::state::PluginState;
use crate::config::{PluginSource, PluginSpec};
use crate::store::ObjectStore;

/// Why a plugin could not be loaded: which plugin, and (as its source) what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin:?} ({path})")]
pub struct LoadError {
    /// Empty when no one plugin is to blame (the host's imports did not link).
    pub plugin: String,
    pub path: String,
    #[source]
    pub cause: LoadFailure,
}

/// What went wrong loading a plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadFailure {
    /// The host refused the component, and says why and what to do.
    #[error("{0}")]
    Refused(String),
    #[error("cannot read the component")]
    Read(#[source] std::io::Error),
    #[error("cannot fetch the component")]
    Fetch(#[source] crate::store::StoreError),
    /// The engine refused it (compiling, linking, loading precompiled code).
    #[error("{what}")]
    Wasm {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl LoadFailure {
    fn wasm(what: impl Into<String>, err: wasmtime::Error) -> Self {
        LoadFailure::Wasm {
            what: what.into(),
            source: err.into(),
        }
    }
}

/// One plugin, ready to run.
pub struct LoadedPlugin {
    pub spec: Arc<PluginSpec>,
    pub(crate) pre: PluginPre<PluginState>,
    pub load_kind: LoadKind,
    pub load_time: Duration,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.spec.name)
            .field("load_kind", &self.load_kind)
            .field("load_time", &self.load_time)
            .finish_non_exhaustive()
    }
}

/// The plugins of a configuration, in config order.
#[derive(Debug)]
pub struct PluginRegistry {
    plugins: Vec<LoadedPlugin>,
}

impl PluginRegistry {
    /// Loads every plugin: fetches the components (from files, the cache or the store),
    /// then compiles and links them on blocking threads. The linker is built once and
    /// shared by all of them.
    pub async fn load(
        engine: &Engine,
        specs: &[PluginSpec],
        cache: Option<&CompileCache>,
        objects: &dyn ObjectStore,
    ) -> Result<Self, LoadError> {
        let mut components = Vec::with_capacity(specs.len());
        for spec in specs {
            let bytes = component_bytes(spec, cache, objects).await;
            components.push(bytes.map_err(|cause| LoadError {
                plugin: spec.name.clone(),
                path: spec.wasm.to_string(),
                cause,
            })?);
        }
        let (engine, specs, cache) = (engine.clone(), specs.to_vec(), cache.cloned());
        tokio::task::spawn_blocking(move || {
            Self::compile_all(&engine, &specs, cache.as_ref(), components)
        })
        .await
        .map_err(|err| LoadError {
            plugin: String::new(),
            path: String::new(),
            cause: LoadFailure::Refused(format!("the loading task failed: {err}")),
        })?
    }

    /// Compiles (or deserializes) and links fetched components, side by side.
    fn compile_all(
        engine: &Engine,
        specs: &[PluginSpec],
        cache: Option<&CompileCache>,
        components: Vec<Vec<u8>>,
    ) -> Result<Self, LoadError> {
        let linker = build_linker(engine).map_err(|err| LoadError {
            plugin: String::new(),
            path: String::new(),
            cause: LoadFailure::wasm("cannot link the host imports", err),
        })?;
        // Plugins load side by side: compiling one is mostly single-threaded work, and a
        // cold start with many plugins then waits for the slowest, not for their sum.
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(specs.len())
            .max(1);
        let next = AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<Result<LoadedPlugin, LoadError>>>> =
            specs.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while let Some(index) =
                        Some(next.fetch_add(1, Ordering::Relaxed)).filter(|i| *i < specs.len())
                    {
                        let result =
                            load_one(engine, &linker, &specs[index], cache, &components[index]);
                        *slots[index].lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
                    }
                });
            }
        });
        let plugins = slots
            .into_iter()
            .zip(specs)
            .map(|(slot, spec)| {
                slot.into_inner()
                    .unwrap_or_else(PoisonError::into_inner)
                    .unwrap_or_else(|| {
                        Err(LoadError {
                            plugin: spec.name.clone(),
                            path: spec.wasm.to_string(),
                            cause: LoadFailure::Refused("its loading thread stopped".into()),
                        })
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { plugins })
    }

    pub fn plugins(&self) -> &[LoadedPlugin] {
        &self.plugins
    }

    pub fn get(&self, index: usize) -> Option<&LoadedPlugin> {
        self.plugins.get(index)
    }
}

fn build_linker(engine: &Engine) -> wasmtime::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |state| state)?;
    Ok(linker)
}

fn load_one(
    engine: &Engine,
    linker: &Linker<PluginState>,
    spec: &PluginSpec,
    cache: Option<&CompileCache>,
    wasm: &[u8],
) -> Result<LoadedPlugin, LoadError> {
    let started = Instant::now();
    let fail = |cause: LoadFailure| LoadError {
        plugin: spec.name.clone(),
        path: spec.wasm.to_string(),
        cause,
    };
    let (component, load_kind) = component(engine, spec, wasm, cache).map_err(fail)?;
    // A memory that starts above the limit would fail every record: refuse it now.
    let initial_memory = component
        .resources_required()
        .and_then(|r| r.max_initial_memory_size)
        .map_or(0, |pages| pages.saturating_mul(WASM_PAGE_BYTES));
    if initial_memory > spec.limits.memory_bytes as u64 {
        return Err(fail(LoadFailure::Refused(memory_too_small(
            initial_memory,
            spec,
        ))));
    }
    let instance_pre = linker.instantiate_pre(&component).map_err(|err| {
        let other_contracts = contract_imports(&component, engine).into_iter().filter(|c| c != CONTRACT).collect::<Vec<_>>();
        if other_contracts.is_empty() {
            fail(LoadFailure::wasm(format!("its imports do not match what this host serves ({CONTRACT} and WASI 0.2)"), err))
        } else {
            fail(LoadFailure::Refused(format!(
                "it was built against {}, and this host serves {CONTRACT}: rebuild it against this contract (the s3plug-guest crate of this s3plug for Rust, the wit/ folder for other languages)",
                other_contracts.join(", ")
            )))
        }
    })?;
    let pre = PluginPre::new(instance_pre).map_err(|err| {
        fail(LoadFailure::wasm(
            format!("it does not export the `plugin` world of {CONTRACT}"),
            err,
        ))
    })?;
    let load_time = started.elapsed();
    tracing::info!(plugin = %spec.name, load = ?load_kind, ms = load_time.as_secs_f64() * 1e3, "plugin loaded");
    Ok(LoadedPlugin {
        spec: Arc::new(spec.clone()),
        pre,
        load_kind,
        load_time,
    })
}

/// The bytes of a plugin's component, checked against its `sha256` when it has one.
/// Components from S3 are kept in the cache folder under their hash, so a pinned plugin is
/// downloaded once per machine (on Lambda: once per execution environment).
async fn component_bytes(
    spec: &PluginSpec,
    cache: Option<&CompileCache>,
    objects: &dyn ObjectStore,
) -> Result<Vec<u8>, LoadFailure> {
    let downloads = cache.map(|cache| cache.dir().join("plugins"));
    let wasm = match &spec.wasm {
        PluginSource::File(path) => {
            // A precompiled artifact that was not shipped (another architecture, say) gives
            // way to the component beside it, compiled now and cached.
            let sibling = path.with_extension("wasm");
            let path = if is_cwasm(path) && !path.exists() && sibling.is_file() {
                tracing::info!(plugin = %spec.name, wasm = %sibling.display(), "no precompiled artifact; compiling the .wasm beside it");
                &sibling
            } else {
                path
            };
            std::fs::read(path).map_err(LoadFailure::Read)?
        }
        PluginSource::S3 { bucket, key } => {
            let cached = spec
                .sha256
                .as_ref()
                .zip(downloads.as_ref())
                .map(|(sha, dir)| dir.join(format!("{sha}.wasm")));
            match cached.as_ref().and_then(|path| std::fs::read(path).ok()) {
                Some(bytes) if spec.sha256.as_deref() == Some(sha256_hex(&bytes).as_str()) => bytes,
                _ => {
                    let bytes = download(objects, bucket, key).await?;
                    if let Some(path) = cached
                        .filter(|_| spec.sha256.as_deref() == Some(sha256_hex(&bytes).as_str()))
                    {
                        let _ = path.parent().map(std::fs::create_dir_all);
                        if let Err(err) = std::fs::write(&path, &bytes) {
                            tracing::warn!(path = %path.display(), "cannot keep the downloaded plugin: {err}");
                        }
                    }
                    bytes
                }
            }
        }
    };
    if let Some(expected) = &spec.sha256 {
        let actual = sha256_hex(&wasm);
        if &actual != expected {
            return Err(LoadFailure::Refused(format!(
                "sha256 mismatch: the config pins {expected}, the component is {actual}; refusing to load it"
            )));
        }
    }
    Ok(wasm)
}

async fn download(
    objects: &dyn ObjectStore,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, LoadFailure> {
    let object = objects
        .get(bucket, key, None)
        .await
        .map_err(LoadFailure::Fetch)?;
    crate::store::read_to_end(object)
        .await
        .map_err(LoadFailure::Read)
}

use crate::digest::sha256_hex;

/// Compiles a component, or loads a precompiled one (`s3plug compile`). A precompiled
/// artifact that this engine refuses (another wasmtime version, other settings) is never
/// used: the `.wasm` beside it is compiled instead, or the plugin is refused.
fn component(
    engine: &Engine,
    spec: &PluginSpec,
    bytes: &[u8],
    cache: Option<&CompileCache>,
) -> Result<(Component, LoadKind), LoadFailure> {
    match Engine::detect_precompiled(bytes) {
        Some(Precompiled::Component) => {
            // Whatever its name: native code from a bucket runs only when pinned.
            if matches!(spec.wasm, PluginSource::S3 { .. }) && spec.sha256.is_none() {
                return Err(LoadFailure::Refused(crate::config::unpinned_precompiled(
                    &spec.wasm,
                )));
            }
            match super::cache::deserialize_precompiled(engine, bytes) {
                Ok(component) => return Ok((component, LoadKind::Precompiled)),
                Err(err) => {
                    let err = format!("{err:#}");
                    if let Some(refusal) = memory_refusal(&err, spec) {
                        return Err(LoadFailure::Refused(refusal));
                    }
                    let refused =
                        format!("the precompiled artifact does not fit this host ({err})");
                    let sibling = match &spec.wasm {
                        PluginSource::File(path) => {
                            Some(path.with_extension("wasm")).filter(|p| p.is_file())
                        }
                        PluginSource::S3 { .. } => None,
                    };
                    let Some(sibling) = sibling else {
                        return Err(LoadFailure::Refused(format!(
                            "{refused}; recompile it with `s3plug compile` for this s3plug"
                        )));
                    };
                    tracing::warn!(plugin = %spec.name, wasm = %sibling.display(), "{refused}; compiling the .wasm beside it");
                    let wasm = std::fs::read(&sibling).map_err(LoadFailure::Read)?;
                    return compile(engine, spec, &wasm, cache);
                }
            }
        }
        Some(Precompiled::Module) => {
            return Err(LoadFailure::Refused(
                "a precompiled core module, not a component: precompile the component".into(),
            ));
        }
        None => {}
    }
    compile(engine, spec, bytes, cache)
}

fn compile(
    engine: &Engine,
    spec: &PluginSpec,
    wasm: &[u8],
    cache: Option<&CompileCache>,
) -> Result<(Component, LoadKind), LoadFailure> {
    if wasm.get(..4) != Some(b"\0asm") {
        return Err(LoadFailure::Refused("not a WebAssembly file".into()));
    }
    if wasm.get(4..8) == Some(&[1, 0, 0, 0]) {
        return Err(LoadFailure::Refused(
            "a core WebAssembly module, not a component: build it for wasm32-wasip2 \
                    (`cargo build --target wasm32-wasip2`)"
                .into(),
        ));
    }
    match cache {
        Some(cache) => cache.component(engine, wasm),
        None => Component::new(engine, wasm).map(|c| (c, LoadKind::Compiled)),
    }
    .map_err(|err| match memory_refusal(&format!("{err:#}"), spec) {
        Some(refusal) => LoadFailure::Refused(refusal),
        None => LoadFailure::wasm("cannot compile the component", err),
    })
}

/// The size of a WebAssembly page.
const WASM_PAGE_BYTES: u64 = 64 << 10;

/// Explains a refusal of the engine's, when it refused the component because its linear
/// memory starts larger than the config's memory limits allow (wasmtime: "memory has a
/// minimum byte size of N which exceeds the limit of ...").
fn memory_refusal(err: &str, spec: &PluginSpec) -> Option<String> {
    let (_, rest) = err.split_once("minimum byte size of ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(memory_too_small(digits.parse().ok()?, spec))
}

/// The refusal of a component whose linear memory starts at `initial` bytes, above the
/// plugin's `memory_mib`.
fn memory_too_small(initial: u64, spec: &PluginSpec) -> String {
    let mib = 1u64 << 20;
    format!(
        "its linear memory starts at {:.1} MiB, more than limits.memory_mib = {} allows: \
         give it a memory_mib of at least {}",
        initial as f64 / mib as f64,
        spec.limits.memory_bytes as u64 / mib,
        initial.div_ceil(mib)
    )
}

/// The versions of the s3plug contract a component imports, as `s3plug:plugin@X.Y.Z`.
fn contract_imports(component: &Component, engine: &Engine) -> Vec<String> {
    let mut versions: Vec<String> = component
        .component_type()
        .imports(engine)
        .filter_map(|(name, _)| contract_of(name))
        .collect();
    versions.sort();
    versions.dedup();
    versions
}

/// `s3plug:plugin/objects@0.2.0` → `s3plug:plugin@0.2.0`.
fn contract_of(import: &str) -> Option<String> {
    let rest = import.strip_prefix("s3plug:plugin/")?;
    let version = rest.split_once('@').map_or("unversioned", |(_, v)| v);
    Some(format!("s3plug:plugin@{version}"))
}

fn is_cwasm(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|ext| ext == "cwasm")
}

#[cfg(test)]
mod tests {
    use super::{contract_of, memory_refusal};

    #[test]
    fn contract_versions_are_read_from_import_names() {
        assert_eq!(
            contract_of("s3plug:plugin/objects@0.2.0").as_deref(),
            Some("s3plug:plugin@0.2.0")
        );
        assert_eq!(
            contract_of("s3plug:plugin/log@0.1.0").as_deref(),
            Some(super::CONTRACT)
        );
        assert_eq!(contract_of("wasi:io/streams@0.2.6"), None);
    }

    #[test]
    fn a_memory_that_starts_too_large_is_explained() {
        let config = crate::Config::parse(
            "[[plugin]]\nname = \"p\"\nwasm = \"p.wasm\"\ntrigger = { bucket = \"inbox\" }\n\
             limits = { memory_mib = 8 }\n",
            "test",
            std::path::Path::new("/"),
        )
        .unwrap();
        let spec = &config.plugins[0];
        let wasmtime = "module memory does not fit in pooling allocator requirements: memory \
                        index 0 is unsupported in this pooling allocator configuration: memory \
                        has a minimum byte size of 9502720 which exceeds the limit of 0x800000 bytes";
        assert_eq!(
            memory_refusal(wasmtime, spec).as_deref(),
            Some(
                "its linear memory starts at 9.1 MiB, more than limits.memory_mib = 8 allows: \
                 give it a memory_mib of at least 10"
            )
        );
        assert_eq!(memory_refusal("some other compile error", spec), None);
    }

    #[tokio::test]
    async fn precompiled_code_from_a_bucket_is_refused_unpinned_whatever_its_name() {
        use crate::store::{MemoryStore, PutOptions};
        let engine = wasmtime::Engine::default();
        // The smallest component, precompiled, under a `.wasm` name.
        let artifact = engine.precompile_component(b"\0asm\x0d\0\x01\0").unwrap();
        let objects = MemoryStore::new();
        objects
            .put("code", "p.wasm", &artifact, &PutOptions::default())
            .unwrap();
        let load = async |pin: &str| {
            let config = crate::Config::parse(
                &format!(
                    "[[plugin]]\nname = \"p\"\nwasm = \"s3://code/p.wasm\"\n{pin}\
                     trigger = {{ bucket = \"inbox\" }}\n"
                ),
                "test",
                std::path::Path::new("/"),
            )
            .unwrap();
            super::PluginRegistry::load(&engine, &config.plugins, None, &objects)
                .await
                .map(|_| ())
                .map_err(|err| format!("{:#}", anyhow::Error::new(err)))
                .unwrap_err()
        };
        let unpinned = load("").await;
        assert!(unpinned.contains("precompiled native code"), "{unpinned}");
        // Pinned, it gets past that (and fails later: it exports nothing).
        let pin = format!("sha256 = \"{}\"\n", super::sha256_hex(&artifact));
        let pinned = load(&pin).await;
        assert!(!pinned.contains("precompiled native code"), "{pinned}");
    }
}
