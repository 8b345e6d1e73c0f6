//! The bindings that `wit-bindgen` generates from the WIT contract in `wit/`, and nothing
//! else: the hand-written API of this crate wraps them.
//!
//! `default_bindings_module` points the generated `export!` macro here, so plugin crates
//! need neither a `wit/` folder nor a direct `wit-bindgen` dependency.

wit_bindgen::generate!({
    path: "../wit",
    world: "plugin",
    pub_export_macro: true,
    default_bindings_module: "s3plug_guest::wit",
});
