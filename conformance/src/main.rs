//! The `synack` binary: the command line of `synack::cli` with this build's stacks.
#![forbid(unsafe_code)]

use std::process::ExitCode;

// A run allocates and frees a few hundred KiB of buffers; the system allocator hands that
// memory back to the kernel after every run and faults it in again for the next (a tenth of
// the time of a short run, in the profile). mimalloc keeps it for the next run.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    synack::cli::main()
}
