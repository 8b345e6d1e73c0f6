//! Host bindings for the `plugin` world of `wit/`: generated code only.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    // Every import returns `wasmtime::Result`: an `Err` traps the guest and is kept for
    // host faults (a bad resource handle). What a guest can recover from is a WIT `error`.
    imports: { default: trappable },
    with: {
        "s3plug:plugin/objects.reader": crate::plugin::imports::objects::ReaderHandle,
        "s3plug:plugin/objects.writer": crate::plugin::imports::objects::WriterHandle,
    },
});

pub use self::s3plug::plugin::{config, log, objects, types};
