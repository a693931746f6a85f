#!/usr/bin/env bash
# Build the libFuzzer targets into build/fuzz/ (clang -fsanitize=fuzzer,address,undefined):
#   app  - frame receiver + timeout + dispatcher + gen backend with the generated model (fuzz_app.c)
#   rans - rANS decoder/encoder with the generated tables, every quality (fuzz_rans.c)
# and the seed corpora (make_seeds.py). Usage: firmware/fuzz/build.sh [MODEL_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
MODEL="${1:-$ROOT/models/tc-small}"
OUT="$ROOT/build/fuzz"
CC="${CLANG:-clang}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang libclang-rt-14-dev)"; exit 3; }
mkdir -p "$OUT"
GEN="$OUT/gen"
if [ ! -f "$GEN/tc_model_data.c" ] || [ "$MODEL/manifest.json" -nt "$GEN/tc_model_data.c" ]; then
  rm -rf "$GEN"
  PYTHONPATH="$ROOT/python" "$PY" -m tinycodec.codegen --manifest "$MODEL" --out "$GEN" >/dev/null
fi
FW="$ROOT/firmware"
CFLAGS=(-std=c11 -O1 -g -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer -I "$FW/core" -I "$FW/fuzz" -I "$GEN" -I "$FW/backends/gen/kernels")
CORE=("$FW/core/tc_app.c" "$FW/core/tc_frame.c" "$FW/core/tc_cobs.c" "$FW/core/tc_crc32.c" "$FW/core/tc_codec.c"
      "$FW/core/tc_rans.c" "$FW/core/tc_runner.c")
# The generated model + kernels: -O2 with UBSan only (no ASan, no coverage): their memory accesses do not
# depend on the data (fixed shapes, planned arena), their arithmetic does. ~20-40 ms per model run.
mkdir -p "$OUT/obj"
MODEL_OBJS=()
for f in "$GEN"/*.c "$FW"/backends/gen/kernels/*.c "$FW/backends/gen/backend_gen.c"; do
  o="$OUT/obj/$(basename "$f" .c).o"
  if [ ! -f "$o" ] || [ "$f" -nt "$o" ]; then
    "$CC" -std=c11 -O2 -g -fsanitize=undefined -fno-sanitize-recover=all -I "$FW/core" -I "$GEN" \
      -I "$FW/backends/gen/kernels" -c "$f" -o "$o"
  fi
  MODEL_OBJS+=("$o")
done
"$CC" "${CFLAGS[@]}" -o "$OUT/fuzz_app" "$FW/fuzz/fuzz_app.c" "$FW/fuzz/fuzz_port.c" "${CORE[@]}" "${MODEL_OBJS[@]}"
"$CC" "${CFLAGS[@]}" -o "$OUT/fuzz_rans" "$FW/fuzz/fuzz_rans.c" "$FW/core/tc_rans.c" "$GEN/tc_entropy_tables.c"
PYTHONPATH="$ROOT/python" "$PY" "$FW/fuzz/make_seeds.py" --model "$MODEL" --out "$OUT/seeds"
echo "fuzz: built $OUT/fuzz_app $OUT/fuzz_rans, seeds in $OUT/seeds"
