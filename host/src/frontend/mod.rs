//! The front ends: each turns its kind of input into events for the shared [`Pipeline`]
//! and reports the outcomes its own way.
//!
//! [`Pipeline`]: crate::Pipeline

pub mod cli;
pub mod dev;
pub mod http;
pub mod lambda;
