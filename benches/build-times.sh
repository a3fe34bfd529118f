#!/usr/bin/env bash
# Build benchmark: what the crate costs a dependent to build.
#
# A scratch crate outside the repository depends on this one by path, with
# default features, and is built in a fresh target directory with
# `cargo build --timings`: the dependent's dev profile applies (this crate's
# `[profile]` sections do not), every dependency and build-dependency is
# compiled, and `build.rs` generates the client with progenitor. The script
# prints the clean-build time, the ten longest units of the timings report,
# then the rebuild after touching the OpenAPI spec (build.rs regenerates the
# client; the crate recompiles), a no-op build, and the rebuild after a real
# change of the spec's bytes (restored afterwards).
#
# The scratch crate uses this repository's Cargo.lock, so the versions are
# the ones committed here, and builds offline.
#
# Run from anywhere: benches/build-times.sh
# (KEEP_TARGET=1 keeps the temporary directory; TOP=n prints n units.)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/appex-build-bench.XXXXXX")
spec=openapi/userpilot-appex-openapi.json
cp -p "$spec" "$work/spec.orig"
cleanup() {
    # Restore the spec first (byte-exact, mtime included), then the scratch.
    cp -p "$work/spec.orig" "$repo/$spec"
    [ "${KEEP_TARGET:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

probe="$work/dep-probe"
target="$work/target"
mkdir -p "$probe/src"
printf 'pub use userpilot_appex;\n' > "$probe/src/lib.rs"
cat > "$probe/Cargo.toml" <<EOF
[package]
name = "dep-probe"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
userpilot-appex = { path = "$repo" }

# Not part of any enclosing workspace.
[workspace]
EOF
cp Cargo.lock "$probe/Cargo.lock"

build() { (cd "$probe" && CARGO_TARGET_DIR="$target" cargo build --offline --quiet "$@"); }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "== build-times: $(date -u +%Y-%m-%dT%H:%M:%SZ), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $(cargo --version), $(rustc --version)"
echo "   a dependent crate, default features, its dev profile, fresh target dir"

# Wall time, and the CPU time of cargo and every rustc, build script and
# linker it waited for: on a shared machine the wall time follows the load,
# the CPU time much less, so compare runs by the CPU time.
TIMEFORMAT='%R %U %S'
{ time build --timings 2>&3; } 3>&2 2> "$work/clean.time"
read -r wall user sys < "$work/clean.time"
echo "clean build (dependent, default features, dev profile): $wall s wall, $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }') s CPU (user $user + sys $sys)"

# The ten longest units, from the table of the HTML report (cargo's JSON
# timings output is nightly-only). Two jobs run at once, so the units' sum
# is about twice the wall time.
report="$target/cargo-timings/cargo-timing.html"
if [ -f "$report" ]; then
    units=$(grep -o '<td>Total units:</td><td>[0-9]*' "$report" | grep -o '[0-9]*$' || true)
    echo "top ${TOP:-10} units of ${units:-?} (cargo build --timings; report kept only with KEEP_TARGET=1):"
    awk -v top="${TOP:-10}" '
        /<th>Unit<\/th>/ { intable = 1; next }
        intable && /<\/tbody>/ { exit }
        intable && /^<tr>/ { n = 0; next }
        intable && /^<td>/ { gsub(/<\/?td>/, ""); cell[++n] = $0; next }
        intable && /^<\/tr>/ && n >= 3 {
            printf "  %-4s %7s  %s\n", cell[1], cell[3], cell[2]
            if (++rows == top) exit
        }' "$report"
else
    echo "no timings report at $report"
fi

touch "$spec"
t2=$(now)
build
t3=$(now)
echo "rebuild after touching $spec: $(secs "$t2" "$t3") s"

t4=$(now)
build
t5=$(now)
echo "no-op build: $(secs "$t4" "$t5") s"

# A real change to the spec's bytes (a trailing newline: the same API), in
# case cargo judges freshness by content rather than mtime; restored on exit.
printf '\n' >> "$spec"
t6=$(now)
build
t7=$(now)
echo "rebuild after changing the spec's bytes (a trailing newline): $(secs "$t6" "$t7") s"
echo "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)"
