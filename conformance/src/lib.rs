//! synack: a deterministic fuzz and conformance harness for TCP.
//!
//! This crate is the harness around `synack-core`. It owns the bodies of the fuzz targets
//! ([`fuzzing`]), so that the cargo-fuzz wrappers in `fuzz/` and the stable `cargo test` replay of
//! `corpus/` run the same code.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fuzzing;
