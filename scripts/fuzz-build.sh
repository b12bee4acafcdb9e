#!/usr/bin/env bash
# Builds every cargo-fuzz target in the repository (crates/*/fuzz) and fails if any does not build.
#
# Build only: running the targets is a separate, long job (see docs/fuzzing.md). All fuzz crates
# share one target directory, so dependencies are compiled once. Only stable Rust is installed,
# and cargo-fuzz needs nightly flags (-Zsanitizer): RUSTC_BOOTSTRAP=1 allows them on stable.
#
# Environment: FUZZ_TARGET_DIR (default <repo>/target/fuzz).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$ROOT/target/fuzz}"
export RUSTC_BOOTSTRAP=1

log() { printf '==> %s\n' "$*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

shopt -s nullglob
manifests=("$ROOT"/crates/*/fuzz/Cargo.toml)
[ "${#manifests[@]}" -gt 0 ] || {
    echo "fuzz-build: no crates/*/fuzz/Cargo.toml found" >&2
    exit 1
}

failed=()
for manifest in "${manifests[@]}"; do
    crate="$(basename "$(dirname "$(dirname "$manifest")")")"
    log "fuzz targets of $crate"
    # --dev: debug assertions and fewer optimisations, which is what a compile check needs.
    if ! (cd "$(dirname "$(dirname "$manifest")")" && cargo fuzz build --dev); then
        failed+=("$crate")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz-build: failed to build the fuzz targets of: ${failed[*]}" >&2
    exit 1
fi
log "all fuzz targets build (${#manifests[@]} crates)"
