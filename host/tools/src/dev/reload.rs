//! `s3plug dev` reloads its plugins when the config file or a plugin's component changes
//! (a rebuild), so that the next upload runs the new code. Records already running finish
//! with the plugins they started with; a config or plugin that does not load is reported and
//! the previous plugins stay.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use s3plug_host::config::{Config, PluginSource};
use s3plug_host::pipeline::Pipeline;
use s3plug_host::store::ObjectStore;

use super::live::LiveLog;

/// How often the files are looked at.
const POLL: Duration = Duration::from_millis(400);

/// The pipeline in force, swapped whole on reload.
#[derive(Debug)]
pub(super) struct Current(RwLock<Arc<Pipeline>>);

impl Current {
    pub(super) fn new(pipeline: Pipeline) -> Self {
        Self(RwLock::new(Arc::new(pipeline)))
    }

    pub(super) fn get(&self) -> Arc<Pipeline> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, pipeline: Pipeline) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(pipeline);
    }
}

/// The size and modification time of each file a config loads from: the config itself and
/// every local plugin component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fingerprint(Vec<(PathBuf, Option<(SystemTime, u64)>)>);

impl Fingerprint {
    pub(super) fn of(config_path: &Path, config: &Config) -> Self {
        let mut paths = vec![config_path.to_path_buf()];
        paths.extend(
            config
                .plugins
                .iter()
                .filter_map(|plugin| match &plugin.wasm {
                    PluginSource::File(path) => Some(path.clone()),
                    PluginSource::S3 { .. } => None,
                }),
        );
        Self(paths.into_iter().map(|path| (path, None)).collect()).again()
    }

    /// The same files, looked at now.
    fn again(&self) -> Self {
        Self(
            self.0
                .iter()
                .map(|(path, _)| {
                    let seen = std::fs::metadata(path).ok().map(|meta| {
                        (
                            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                            meta.len(),
                        )
                    });
                    (path.clone(), seen)
                })
                .collect(),
        )
    }
}

/// Everything a reload needs.
pub(super) struct Watch {
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    pub objects: Arc<dyn ObjectStore>,
    pub current: Arc<Current>,
    pub log: Arc<LiveLog>,
}

/// Watches the files until the task is dropped; reloads once they have changed and then held
/// still for one more look (a build may still be writing).
pub(super) async fn watch(mut seen: Fingerprint, watch: Watch) {
    let watch = Arc::new(watch);
    loop {
        tokio::time::sleep(POLL).await;
        let changed = seen.again();
        if changed == seen {
            continue;
        }
        tokio::time::sleep(POLL).await;
        if changed.again() != changed {
            continue;
        }
        seen = match reload(&watch).await {
            Ok(config) => Fingerprint::of(&watch.config_path, &config),
            Err(err) => {
                watch.log.reload_failed(&format!("{err:#}"));
                changed
            }
        };
    }
}

async fn reload(watch: &Watch) -> anyhow::Result<Config> {
    let config = Config::load(&watch.config_path)?;
    super::make_buckets(&config, &watch.data_dir)?;
    let pipeline = Pipeline::load(&config, watch.objects.clone()).await?;
    watch.current.set(pipeline);
    let names: Vec<&str> = config.plugins.iter().map(|p| p.name.as_str()).collect();
    watch.log.reloaded(&names);
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_changes_with_the_config_and_each_local_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("p.wasm");
        std::fs::write(&wasm, b"one").unwrap();
        let config_path = dir.path().join("s3plug.toml");
        let text = "[[plugin]]\nname = \"p\"\nwasm = \"p.wasm\"\ntrigger = { bucket = \"inbox\" }\n\n\
                    [[plugin]]\nname = \"q\"\nwasm = \"s3://plugins/q.wasm\"\ntrigger = { bucket = \"outbox\" }\n";
        std::fs::write(&config_path, text).unwrap();
        let config = Config::load(&config_path).unwrap();
        let first = Fingerprint::of(&config_path, &config);
        assert_eq!(
            first.0.len(),
            2,
            "the config and the local plugin: {first:?}"
        );
        assert_eq!(first.again(), first, "nothing changed");

        std::fs::write(&wasm, b"rebuilt").unwrap();
        let rebuilt = first.again();
        assert_ne!(rebuilt, first);
        std::fs::write(&config_path, format!("{text}\n")).unwrap();
        assert_ne!(rebuilt.again(), rebuilt);
        std::fs::remove_file(&wasm).unwrap();
        assert_eq!(
            rebuilt.again().0[1].1,
            None,
            "a missing file is a change too"
        );
    }
}
