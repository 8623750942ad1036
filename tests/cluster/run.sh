#!/bin/bash
# run.sh - run the xenha cluster test cases, each on a fresh cluster.
#
# Usage: tests/cluster/run.sh [CASE...]
#   CASE is a letter or a name: 0 a b c d e f o, a_form, t_e_fence.sh, ...
#   (default: every tests/cluster/t_*.sh, in order).
# Prints "PASS|FAIL name (secs)" per case and "cluster: N passed, N failed";
# exits 1 if any case failed.  Each case's full output is kept in
# $XH_RESULTS/CASE.log (default /var/tmp/xenha-cluster/results); the tail is
# shown for a failed case.  XH_VERBOSE=1 shows every case's output live;
# XH_CASE_TIMEOUT (600) bounds each case in seconds; XH_SKIP="v ..." skips
# the cases with those letters.
# Needs root; see docs/testing.md.  Environment: as tests/cluster/lib.sh.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export XENHA_BUILD=${XENHA_BUILD:-}
[ -n "$XENHA_BUILD" ] || unset XENHA_BUILD
results=${XH_RESULTS:-/var/tmp/xenha-cluster/results}
case_tmo=${XH_CASE_TIMEOUT:-600}
mkdir -p "$results" || exit 1

cases=()
if [ $# -eq 0 ]; then
	for f in "$here"/t_*.sh; do cases+=("$f"); done
else
	for c in "$@"; do
		c=${c%.sh}
		c=${c#t_}
		m=("$here"/t_"$c".sh "$here"/t_"$c"_*.sh)
		f=""
		for x in "${m[@]}"; do [ -e "$x" ] && { f=$x; break; }; done
		[ -n "$f" ] || { echo "run.sh: no case '$c' in $here" >&2; exit 2; }
		cases+=("$f")
	done
fi

# one run per prefix at a time (the cases inherit the lock)
. "$here/lib.sh"
xh_prereq || { echo "cluster: 0 passed, 1 failed (prerequisites missing)"; exit 1; }
xh_lock "run.sh" || exit 1
# a stale cluster of an interrupted run must not break the first case
xh_down >/dev/null 2>&1

pass=0
fail=0
failed=""
for f in "${cases[@]}"; do
	name=$(basename "$f" .sh)
	name=${name#t_}
	case " ${XH_SKIP:-} " in
	*" ${name%%_*} "*) echo "SKIP $name (XH_SKIP)"; continue ;;
	esac
	log=$results/$name.log
	t0=${EPOCHREALTIME/[.,]/}
	# a case that hangs despite its bounded waits gets SIGTERM (its trap
	# still tears the cluster down), SIGKILL a minute later
	if [ "${XH_VERBOSE:-0}" = 1 ]; then
		timeout -k 60 "$case_tmo" bash "$f" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
	else
		timeout -k 60 "$case_tmo" bash "$f" >"$log" 2>&1
		rc=$?
	fi
	[ "$rc" != 124 ] || echo "FAIL $name: no result after ${case_tmo}s (stopped)" >>"$log"
	secs=$(awk -v a="$t0" -v b="${EPOCHREALTIME/[.,]/}" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
	if [ "$rc" = 0 ] && grep -q "^PASS " "$log"; then
		echo "PASS $name (${secs}s)"
		pass=$((pass + 1))
	else
		echo "FAIL $name (${secs}s)"
		if [ "${XH_VERBOSE:-0}" != 1 ]; then
			grep -E '^(FAIL|logs of)' "$log" | sed 's/^/    /'
			echo "    --- last lines of $log ---"
			tail -n 25 "$log" | sed 's/^/    /'
		fi
		fail=$((fail + 1))
		failed="$failed $name"
	fi
done
echo "cluster: $pass passed, $fail failed${failed:+ (failed:$failed)}"
[ "$fail" = 0 ]
