#!/usr/bin/env bash
# Run the fuzz targets one after the other (never in parallel), each for SECONDS (default 60):
#   firmware/fuzz/run.sh [SECONDS]      build, fuzz app, rans, tcz (tests/tools/fuzz_tcz.py); corpora in build/fuzz/corpus/<target>
#   firmware/fuzz/run.sh replay         build, replay tests/fuzz_corpus/<target> once (the regression check)
# Crashes/hangs are written to build/fuzz/artifacts/; the exit code is non-zero if any target failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/build/fuzz"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
REG="$ROOT/tests/fuzz_corpus"
TCZ="$ROOT/tests/tools/fuzz_tcz.py"  # the Python target (host .tcz reader) lives with the test tools
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"  # the package, installed or not
"$ROOT/firmware/fuzz/build.sh" || exit $?
mkdir -p "$OUT/artifacts"
declare -A MAXLEN=([app]=16600 [rans]=4100 [tcz]=8192)
fail=0
have_atheris() { "$PY" -c "import atheris" 2>/dev/null; }
run_target() { # target args...
  local t="$1"; shift
  if [ "$t" = tcz ]; then
    if [ "${MODE}" = replay ]; then "$PY" "$TCZ" --replay "$@"; return $?; fi
    have_atheris || { echo "fuzz: tcz skipped (pip install atheris); the replay still runs"; \
      "$PY" "$TCZ" --replay "$REG/tcz"; return $?; }
    "$PY" "$TCZ" -artifact_prefix="$OUT/artifacts/tcz-" "$@"
  else
    "$OUT/fuzz_$t" -artifact_prefix="$OUT/artifacts/$t-" "$@"
  fi
}
MODE="${1:-60}"
for t in app rans tcz; do
  if [ "$MODE" = replay ]; then
    if [ "$t" = tcz ]; then run_target tcz "$REG/$t" || fail=1
    else run_target "$t" -runs=0 "$REG/$t" || fail=1; fi
  else
    mkdir -p "$OUT/corpus/$t"
    echo "fuzz: $t for $MODE s"
    run_target "$t" -max_total_time="$MODE" -timeout=10 -rss_limit_mb=2048 -max_len="${MAXLEN[$t]}" \
      -print_final_stats=1 "$OUT/corpus/$t" "$OUT/seeds/$t" "$REG/$t" > "$OUT/$t.log" 2>&1
    rc=$?
    grep -E "^(stat::|==[0-9]+==ERROR|SUMMARY|Done )|DONE|crash-|timeout-|leak-|fuzz:" "$OUT/$t.log" | tail -12
    [ $rc -eq 0 ] || { echo "fuzz: $t FAILED (exit $rc), log $OUT/$t.log"; fail=1; }
  fi
done
exit $fail
