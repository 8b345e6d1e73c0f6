//! End-to-end tests: real plugins built for wasm32-wasip2, run by the real host, through
//! the pipeline in-process and through the `s3plug` binary.

mod cli;
mod deploy;
mod dev;
mod events;
mod hostile;
mod iam;
mod javascript;
mod keys;
mod lambda;
mod loops;
mod plugins;
mod precompiled;
mod python;
mod routing;
mod s3;
mod safety;
mod scaffold;
mod serve;
mod testcases;
mod trace;
mod upper;
