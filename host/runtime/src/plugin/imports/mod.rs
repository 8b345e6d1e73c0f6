//! The host side of the plugin's imports, one file per WIT interface.

pub(crate) mod config;
pub(crate) mod log;
pub(crate) mod objects;

impl crate::plugin::bindings::types::Host for crate::plugin::PluginState {}
