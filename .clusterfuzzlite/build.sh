#!/bin/bash -eu
# ClusterFuzzLite's build: the cargo-fuzz targets in fuzz/, with their committed seed corpora
# (corpus/<target>/ and corpus/regressions/<target>/) zipped beside each binary. Run locally
# with SRC set to the folder that holds the checkout as `synack`, OUT to an empty folder, and
# the nightly toolchain: SRC=.. OUT=/tmp/out RUSTUP_TOOLCHAIN=nightly .clusterfuzzlite/build.sh
cd "$SRC/synack/fuzz"
cargo fuzz build -O
targets="wire endpoint sim parsers script"
for t in $targets; do
  cp "target/x86_64-unknown-linux-gnu/release/$t" "$OUT/"
  rm -f "$OUT/${t}_seed_corpus.zip"
  (cd "$SRC/synack/corpus" && zip -q -r "$OUT/${t}_seed_corpus.zip" "$t" $(test -d "regressions/$t" && echo "regressions/$t"))
done
