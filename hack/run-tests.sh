#!/usr/bin/env bash
# run-tests.sh DIR TEST... - runs each test binary (or tests/**/NAME.sh) and
# prints one closing line "N passed, N failed" summed over all of them.
# Criterion binaries report "Synthesis: Tested: T | Passing: P | Failing: F |
# Crashing: C"; shell tests end with their own "N passed, N failed" line.
set -u
dir=$1
shift
passed=0
failed=0
broken=()

for t in "$@"; do
	if [ -x "$dir/$t" ]; then
		cmd=("$dir/$t")
		# Integration tests share the kernel: one test at a time.
		case "$t" in test_sensor_*|test_cri*|test_replay*) cmd+=(--jobs 1) ;; esac
	elif [ -f "tests/integration/$t.sh" ]; then
		cmd=(bash "tests/integration/$t.sh")
	else
		echo "run-tests: $t: no such test" >&2
		broken+=("$t")
		continue
	fi
	echo "=== $t"
	out=$("${cmd[@]}" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		printf '%s\n' "$out" | grep -vE '^\[----\]|^$' | tail -n 40
	else
		# A failure: show why (assertions first), not just the tail.
		printf '%s\n' "$out" | grep -E -A6 'Assertion Failed|FAIL' | head -n 120
		printf '%s\n' "$out" | grep -vE '^\[----\]|^$|^    #[0-9]' | tail -n 40
	fi
	line=$(printf '%s\n' "$out" | grep -E 'Synthesis: Tested: [0-9]+' | tail -n 1)
	if [ -n "$line" ]; then
		p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failing: ([0-9]+).*/\1/' <<<"$line")
		c=$(sed -E 's/.*Crashing: ([0-9]+).*/\1/' <<<"$line")
		passed=$((passed + p))
		failed=$((failed + f + c))
	else
		line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
		if [ -n "$line" ]; then
			passed=$((passed + $(cut -d' ' -f1 <<<"$line")))
			failed=$((failed + $(cut -d' ' -f3 <<<"$line")))
		else
			broken+=("$t")
		fi
	fi
	if [ $rc -ne 0 ] && [ -z "$line" ]; then
		broken+=("$t")
	fi
done

for b in "${broken[@]+"${broken[@]}"}"; do
	echo "run-tests: $b did not report a result (crashed or missing)" >&2
	failed=$((failed + 1))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
