//! Plugins: the engine, loading components, and calling one on one record.

mod bindings;
mod cache;
mod engine;
mod imports;
mod invoke;
mod registry;
mod state;

pub use cache::{CompileCache, LoadKind};
pub use engine::{Allocator, EngineOptions, engine_config, new_engine, new_engine_with};
pub(crate) use invoke::{CallDeadline, CallScope};
pub use registry::{LoadError, LoadFailure, LoadedPlugin, PluginRegistry};
pub(crate) use state::{PluginState, Usage};

/// The WIT package this host serves.
pub(crate) const CONTRACT: &str = "s3plug:plugin@0.1.0";
