//! The `synack` command line.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

/// synack: a deterministic fuzz and conformance harness for TCP.
///
/// With no subcommand, synack will run its default conformance suite. The suite is not built
/// yet: the simulator (`sweep`, `replay`, `shrink`) and the RFC transition tables (`table`) are
/// the subcommands to come, and until they land synack prints its usage and exits 0.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    println!("synack {}", env!("CARGO_PKG_VERSION"));
    println!("usage: synack [--help] [--version]");
    println!();
    println!("subcommands to come: sweep, replay, shrink, table");
    ExitCode::SUCCESS
}
