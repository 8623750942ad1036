#!/bin/bash
# summary.sh LOGDIR - print the result of every unit-test program (cmocka's
# own summary lines for cmocka programs, TAP counts for the shell tests) of
# the plain and the ASan build, the cluster, fuzzing and distcheck results, then the
# totals of everything as the last line:
#   N passed, N failed
# A program that died before printing its results counts as one failure.
# Exit status 0 only if nothing failed and something ran.
set -u
dir=${1:?usage: summary.sh LOGDIR}
passed=0 failed=0 skipped=0
echo "== summary =="
for sub in unit asan; do
	for f in "$dir/$sub"/test_*.log; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .log)
		trs=${f%.log}.trs
		if grep -aqE '^\[  (PASSED|FAILED)  \]' "$f"; then
			p=$(grep -aE '^\[  PASSED  \] [0-9]+ test' "$f" | awk '{s+=$4} END{print s+0}')
			x=$(grep -aE '^\[  FAILED  \] [0-9]+ test' "$f" | awk '{s+=$4} END{print s+0}')
			grep -aE '^\[==========\] [0-9]+ test\(s\) run|^\[  PASSED  \]|^\[  FAILED  \] [0-9]+ test' "$f" |
				sed "s|^|$sub/$name: |"
		elif grep -aqE '^1\.\.[0-9]+' "$f"; then
			p=$(grep -acE '^ok ' "$f")
			x=$(grep -aE '^not ok ' "$f" | grep -avc ' # TODO')
			t=$(grep -aE '^not ok ' "$f" | grep -ac ' # TODO')
			if [ "$t" -gt 0 ]; then
				echo "$sub/$name: TAP: $p ok, $x not ok, $t known bugs (TODO)"
			else
				echo "$sub/$name: TAP: $p ok, $x not ok"
			fi
		elif grep -aq ':test-result: SKIP' "$trs" 2>/dev/null; then
			p=0 x=0; skipped=$((skipped + 1))
			echo "$sub/$name: skipped"
		else
			p=0 x=0
		fi
		# the automake driver's verdict (exit status) must agree
		if ! grep -aqE ':test-result: (PASS|SKIP)' "$trs" 2>/dev/null && [ "$x" = 0 ]; then
			x=1; echo "$sub/$name: FAILED (exit status; see $f)"
		fi
		passed=$((passed + p)); failed=$((failed + x))
	done
done
for f in "$dir/cluster.out" "$dir/cluster-asan.out" "$dir/campaign.out" "$dir/auditor.out" \
	"$dir/model.out" "$dir/fuzz.out" "$dir/distcheck.out"; do
	[ -e "$f" ] || { failed=$((failed + 1)); echo "missing: $f"; continue; }
	line=$(grep -aE '^[a-z_]+: [0-9]+ passed, [0-9]+ failed' "$f" | tail -n 1)
	if [ -z "$line" ]; then failed=$((failed + 1)); echo "$(basename "$f"): no result line"; continue; fi
	echo "$line"
	p=$(echo "$line" | sed -E 's/^[a-z_]+: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
	x=$(echo "$line" | sed -E 's/^[a-z_]+: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
	passed=$((passed + p)); failed=$((failed + x))
done
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
