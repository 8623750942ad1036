#!/bin/bash
# summary.sh LOGDIR - print every cmocka summary found in the unit-test logs
# (plain and ASan builds), then the totals of all suites as the last line:
#   N passed, N failed
# Exit status 0 only if nothing failed and something ran.
set -u
dir=${1:?usage: summary.sh LOGDIR}
passed=0 failed=0
echo "== summary =="
for sub in unit asan; do
	for f in "$dir/$sub"/test_*.log; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .log)
		p=$(grep -aE '^\[  PASSED  \] [0-9]+ test' "$f" | awk '{s+=$4} END{print s+0}')
		x=$(grep -aE '^\[  FAILED  \] [0-9]+ test' "$f" | awk '{s+=$4} END{print s+0}')
		# a program that crashed before cmocka's summary counts as one failure
		if ! grep -aqE '^\[  PASSED  \]|^\[  FAILED  \]' "$f"; then x=$((x + 1)); fi
		grep -aE '^\[==========\] [0-9]+ test\(s\) run|^\[  PASSED  \]|^\[  FAILED  \] [0-9]+ test' "$f" \
			| sed "s|^|$sub/$name: |"
		passed=$((passed + p)); failed=$((failed + x))
	done
done
for f in "$dir/cluster.out" "$dir/distcheck.out"; do
	[ -e "$f" ] || { failed=$((failed + 1)); echo "missing: $f"; continue; }
	line=$(grep -aE '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$f" | tail -n 1)
	if [ -z "$line" ]; then failed=$((failed + 1)); echo "$(basename "$f"): no result line"; continue; fi
	echo "$line"
	p=$(echo "$line" | sed -E 's/^[a-z]+: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
	x=$(echo "$line" | sed -E 's/^[a-z]+: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
	passed=$((passed + p)); failed=$((failed + x))
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
