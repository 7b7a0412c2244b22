//! The public API of synack-core and synack, item by item, as insta snapshots.
//!
//! A user's stack builds on these items (the `TcpStack` trait, `Harness`, `cli::main_with`,
//! the parameters it declares). A pull request that adds, removes or changes one changes a
//! snapshot here, and the reviewer reads the difference: a removal or a changed signature is a
//! breaking change, for the CHANGELOG and the version number.
//!
//! rustdoc's JSON output needs the nightly toolchain, so these tests are ignored by a plain
//! `cargo test`; `.ci/run` runs them with
//! `cargo test --manifest-path api/Cargo.toml -- --ignored`.

use std::path::{Path, PathBuf};

/// The public items of the crate at `dir` (relative to the repository), one per line.
fn public_api(dir: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("api/ sits in the repository");
    let manifest: PathBuf = root.join(dir).join("Cargo.toml");
    // A target folder of its own: nightly's artifacts never mix with the stable build's.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rustdoc");
    let json = rustdoc_json::Builder::default()
        .toolchain("nightly")
        .manifest_path(&manifest)
        .target_dir(&target)
        .quiet(true)
        .build()
        .unwrap_or_else(|e| {
            panic!(
                "rustdoc could not write {}'s JSON (is the nightly toolchain installed? \
                 `rustup toolchain install nightly`): {e}",
                manifest.display()
            )
        });
    public_api::Builder::from_rustdoc_json(&json)
        // What every type gets from the standard library (blanket and auto-trait impls, and
        // the methods of derived traits) says nothing about this crate's own API.
        .omit_blanket_impls(true)
        .omit_auto_trait_impls(true)
        .omit_auto_derived_impls(true)
        .build()
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", json.display()))
        .to_string()
}

#[test]
#[ignore = "needs the nightly toolchain; .ci/run runs it with --ignored"]
fn synack_core_public_api() {
    insta::assert_snapshot!(public_api("core"));
}

#[test]
#[ignore = "needs the nightly toolchain; .ci/run runs it with --ignored"]
fn synack_public_api() {
    insta::assert_snapshot!(public_api("conformance"));
}
