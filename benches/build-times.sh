#!/usr/bin/env bash
# Build benchmark: a clean `cargo build` of the library with default
# features in a fresh target directory, then the rebuild after touching the
# OpenAPI spec (build.rs regenerates the client; the crate recompiles).
#
# Run from the repository root: benches/build-times.sh
# (KEEP_TARGET=1 keeps the temporary target directory.)
set -euo pipefail
cd "$(dirname "$0")/.."

target=$(mktemp -d "${TMPDIR:-/tmp}/appex-build-bench.XXXXXX")
cleanup() { [ "${KEEP_TARGET:-0}" = 1 ] || rm -rf "$target"; }
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "== build-times: $(date -u +%Y-%m-%dT%H:%M:%SZ), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $(cargo --version), $(rustc --version)"

t0=$(now)
CARGO_TARGET_DIR="$target" cargo build --lib --offline --quiet
t1=$(now)
echo "clean build (lib, default features, dev profile): $(secs "$t0" "$t1") s"

touch openapi/userpilot-appex-openapi.json
t2=$(now)
CARGO_TARGET_DIR="$target" cargo build --lib --offline --quiet
t3=$(now)
echo "rebuild after touching openapi/userpilot-appex-openapi.json: $(secs "$t2" "$t3") s"

t4=$(now)
CARGO_TARGET_DIR="$target" cargo build --lib --offline --quiet
t5=$(now)
echo "no-op build: $(secs "$t4" "$t5") s"

# A real change to the spec's bytes (a trailing newline: the same API), in
# case cargo judges freshness by content rather than mtime; restored after.
spec=openapi/userpilot-appex-openapi.json
cp -p "$spec" "$target/spec.orig"
restore() { cp -p "$target/spec.orig" "$spec"; cleanup; }
trap restore EXIT
printf '\n' >> "$spec"
t6=$(now)
CARGO_TARGET_DIR="$target" cargo build --lib --offline --quiet
t7=$(now)
echo "rebuild after changing the spec's bytes (a trailing newline): $(secs "$t6" "$t7") s"
echo "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)"
