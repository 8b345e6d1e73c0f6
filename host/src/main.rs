//! The `s3plug` binary: the front ends over the runtime in `s3plug-host`. Each front end is
//! a Cargo feature (see Cargo.toml); `run`, `check`, `compile` and `policy` are always here.

mod cli;
mod commands;
mod deadline;
#[cfg(feature = "lambda")]
mod lambda;
mod logging;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "tools")]
mod tools;

fn main() -> std::process::ExitCode {
    cli::main()
}
