#!/usr/bin/env bash
# Test-suite build benchmark (issue #15): for each git revision given, a clean
# `cargo test --all-features --no-run` in a fresh clone with a fresh target
# directory, the size of target/debug, then the time of
# `cargo test --all-features` on the built tree. Revisions are measured one
# after the other in the same run, so the figures compare.
#
# Run from the repository root: benches/test-build-times.sh REV [REV…]
# e.g. benches/test-build-times.sh 45d5f13 main
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }

echo "== test-build-times: $(date -u +%Y-%m-%dT%H:%M:%SZ), nproc $(nproc), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
for rev in "$@"; do
  work=$(mktemp -d "${TMPDIR:-/tmp}/appex-test-build.XXXXXX")
  git clone --quiet --no-checkout "$repo" "$work/src"
  git -C "$work/src" checkout --quiet "$(git rev-parse "$rev")"
  cd "$work/src"
  t0=$(now)
  cargo test --all-features --no-run --quiet >/dev/null 2>"$work/build.log" || { cat "$work/build.log"; exit 1; }
  t1=$(now)
  size=$(du -sm target/debug | cut -f1)
  bins=$(find target/debug/deps -maxdepth 1 -type f -executable | wc -l)
  t2=$(now)
  cargo test --all-features --quiet >"$work/test.log" 2>&1 || { tail -30 "$work/test.log"; exit 1; }
  t3=$(now)
  echo "$rev: clean test build $(secs "$t0" "$t1") s; target/debug ${size} MiB, ${bins} executables; cargo test $(secs "$t2" "$t3") s; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  cd "$repo"
  rm -rf "$work"
done
