//! Host bindings for the `plugin` world of `wit/`: generated code only.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../../wit",
    // Every import returns `wasmtime::Result`: an `Err` traps the guest and is kept for
    // host faults (a bad resource handle). What a guest can recover from is a WIT `error`.
    // Object calls are async, so that the call's time limit cancels them wherever they
    // wait; `log` and `config` never wait and stay plain functions.
    imports: {
        "s3plug:plugin/objects": async | trappable,
        default: trappable,
    },
    // The call is async: it runs on a fiber that yields at every epoch tick, and dropping
    // its future cancels it.
    exports: { default: async },
    with: {
        "s3plug:plugin/objects.reader": crate::plugin::imports::objects::ReaderHandle,
        "s3plug:plugin/objects.writer": crate::plugin::imports::objects::WriterHandle,
    },
});

pub use self::s3plug::plugin::{config, log, objects, types};
