#!/usr/bin/env bash
# test_fuzz_secl.sh - runs the SECL parser fuzz target (libFuzzer, with
# ASan and UBSan) for a fixed time from the committed seed corpus. Any crash,
# leak or sanitizer report fails the test. FUZZ_SECONDS overrides the time.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${BUILD_DIR:-$ROOT/build}/fuzz
SECONDS_TO_RUN=${FUZZ_SECONDS:-30}
mkdir -p "$OUT/corpus"
cp "$ROOT"/tests/fuzz/corpus/* "$OUT/corpus/" 2>/dev/null

if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I"$ROOT/sensor" \
	"$ROOT/tests/fuzz/fuzz_secl.c" "$ROOT"/sensor/secl_lex.c "$ROOT"/sensor/secl_parse.c \
	"$ROOT"/sensor/secl_eval.c -o "$OUT/fuzz_secl" 2>"$OUT/build.log"; then
	cat "$OUT/build.log"
	echo "FAIL: build the fuzz target"
	echo "0 passed, 1 failed"
	exit 1
fi
if "$OUT/fuzz_secl" -max_total_time="$SECONDS_TO_RUN" -timeout=5 -max_len=4096 \
	-print_final_stats=1 "$OUT/corpus" >"$OUT/fuzz.log" 2>&1; then
	echo "PASS: fuzz_secl ran ${SECONDS_TO_RUN}s clean ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/fuzz.log" | grep -o '[0-9]*$') inputs)"
	echo "1 passed, 0 failed"
	exit 0
fi
tail -40 "$OUT/fuzz.log"
echo "FAIL: fuzz_secl found a problem (crash input in $OUT)"
echo "0 passed, 1 failed"
exit 1
