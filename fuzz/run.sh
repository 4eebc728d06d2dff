#!/usr/bin/env bash
# Runs the libFuzzer targets built in BUILD_FUZZ_DIR (build-fuzz/fuzz).
#   fuzz/run.sh DIR fuzz SECONDS   each target fuzzes for SECONDS; new inputs go to DIR/corpus/<target>
#   fuzz/run.sh DIR ci SECONDS     each target replays its seeds once (regression), then fuzzes for
#                                  SECONDS into a throw-away corpus
# Targets run FUZZ_JOBS at a time (default: online CPUs). FUZZ_TARGETS="a b" picks some.
# Any crash, leak, timeout or sanitizer report fails the run and leaves the input in DIR/artifacts/.
set -euo pipefail

dir=$(cd "$1" && pwd)
mode=$2
seconds=$3
root=$(cd "$(dirname "$0")/.." && pwd)
corpora=${VMPULL_CORPORA:-$root/../shared/corpora}
jobs=${FUZZ_JOBS:-$(nproc)}

# Seed folders for a target: its committed seeds (crash regressions included), then the shared corpora.
seeds_for() {
  local t=$1
  echo "$root/fuzz/seeds/$t"
  [ -d "$corpora" ] || return 0
  case $t in
    decode) echo "$corpora/podman-samples" "$corpora/xz" "$corpora/zstd/golden-decompression" ;;
    decode_xz | decode_lzma | decode_lzip) echo "$corpora/xz" ;;
    decode_zstd) echo "$corpora/zstd/golden-decompression" "$corpora/zstd/golden-decompression-errors" ;;
    decode_gzip | decode_bzip2 | decode_zip) echo "$corpora/podman-samples" ;;
    oci_manifest) echo "$corpora/oci-image-spec/examples" "$corpora/oci-image-spec/schema-fixtures" ;;
  esac
}

run_one() {
  local t=$1 bin="$dir/fuzz_$1" log="$dir/logs/$1.log"
  local seeds=()
  for s in $(seeds_for "$t"); do [ -d "$s" ] && seeds+=("$s"); done
  mkdir -p "$dir/artifacts/$t" "$dir/logs"
  # 4 GiB: a hostile header may make a decoder reserve a 2 GiB window (untouched, but malloc'd).
  local opts=(-rss_limit_mb=4096 -malloc_limit_mb=4096 -timeout=25 -artifact_prefix="$dir/artifacts/$t/"
    -print_final_stats=1)
  local start=$SECONDS
  if [ "$mode" = ci ]; then
    if ! "$bin" "${opts[@]}" -runs=0 "${seeds[@]}" >"$log" 2>&1; then
      echo "FAIL $t: a seed fails (regression); log $log"; tail -n 40 "$log"; return 1
    fi
    local scratch
    scratch=$(mktemp -d)
    if ! "$bin" "${opts[@]}" -max_total_time="$seconds" "$scratch" "${seeds[@]}" >>"$log" 2>&1; then
      rm -rf "$scratch"
      echo "FAIL $t: found a crash; input in $dir/artifacts/$t/, log $log"; tail -n 40 "$log"; return 1
    fi
    rm -rf "$scratch"
  else
    mkdir -p "$dir/corpus/$t"
    if ! "$bin" "${opts[@]}" -max_total_time="$seconds" "$dir/corpus/$t" "${seeds[@]}" >"$log" 2>&1; then
      echo "FAIL $t: found a crash; input in $dir/artifacts/$t/, log $log"; tail -n 40 "$log"; return 1
    fi
  fi
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
  echo "ok   $t: ${#seeds[@]} seed folder(s), ${runs:-?} executions in $((SECONDS - start)) s"
}

if [ "$mode" = --one ]; then
  mode=$4
  run_one "$5"
  exit
fi
case $mode in fuzz | ci) ;; *) echo "usage: $0 DIR fuzz|ci SECONDS" >&2; exit 2 ;; esac
[ -d "$corpora" ] || echo "fuzz: shared corpora not found at $corpora: using only fuzz/seeds/ (skipped)"

targets=${FUZZ_TARGETS:-$(cd "$dir" && ls fuzz_* 2>/dev/null | grep -v '\.' | sed 's/^fuzz_//')}
[ -n "$targets" ] || { echo "fuzz: no targets in $dir" >&2; exit 1; }
echo "fuzz: $(echo $targets | wc -w) targets, $mode mode, ${seconds} s each, $jobs at a time"
start=$SECONDS
# xargs exits 123 when any target failed; every target still runs.
if printf '%s\n' $targets | xargs -P "$jobs" -I{} "$0" "$dir" --one "$seconds" "$mode" {}; then
  echo "fuzz: all targets passed in $((SECONDS - start)) s"
else
  echo "fuzz: FAILED (see above)"; exit 1
fi
