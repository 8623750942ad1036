#!/bin/sh
# Spin model check of the fencing rules: tests/model/fencing.pml, described
# in docs/fencing.md ("Model check").  Checks:
#   real                 the rule as specified verifies: 0 errors, search complete
#   no-extra             survivors wait lease + watchdog + margin (no token extra): must fail
#   no-watchdog          survivors wait extra + lease + margin (no watchdog): must fail
#   no-membership-reset  d not restarted on membership changes: must fail
# Prints one detail line per check (indented) and then one line
# "model: N passed, N failed"; exit 0 only if every check passed.
# Environment: SPIN, CC, MODEL_NFAULTS (default 2), MODEL_MEMLIM_MB (default
# 1536, the pan memory bound), MODEL_TIMEOUT (seconds per check, default 170),
# MODEL_VERBOSE=1 (print the counterexamples).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
SPIN=${SPIN:-spin}
CC=${CC:-gcc}
NFAULTS=${MODEL_NFAULTS:-2}
MEMLIM=${MODEL_MEMLIM_MB:-1536}
TLIMIT=${MODEL_TIMEOUT:-170}
VERBOSE=${MODEL_VERBOSE:-0}
passed=0
failed=0

if ! command -v "$SPIN" >/dev/null 2>&1; then
	echo "  [model] $SPIN not found (Debian package spin)"
	echo "model: 0 passed, 1 failed"
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# The model's constants come from the C rules (fr_timing_defaults,
# fr_extra_ms, fr_wait_ms): consts.c prints them as fr_consts.h.
if ! $CC -std=gnu11 -O1 -I"$top/include" "$top/src/lib/fencerules.c" "$here/consts.c" \
	-o "$tmp/consts" 2>"$tmp/consts.err" || ! "$tmp/consts" >"$tmp/fr_consts.h"; then
	echo "  [model] cannot generate the constants from src/lib/fencerules.c:"
	sed 's/^/  [model]   /' "$tmp/consts.err"
	echo "model: 0 passed, 1 failed"
	exit 1
fi
consts=$(grep '^#define' "$tmp/fr_consts.h" | sed 's/^#define //; s/ /=/' | tr '\n' ' ')
echo "  [model] constants (units): $consts"

# check NAME EXPECT(pass|fail) [spin -D options...]
check() {
	name=$1
	expect=$2
	shift 2
	d="$tmp/$name"
	mkdir "$d"
	cp "$here/fencing.pml" "$tmp/fr_consts.h" "$d/"
	if ! (cd "$d" && "$SPIN" -a -DNFAULTS="$NFAULTS" "$@" fencing.pml >spin.out 2>&1 &&
		$CC -w -O2 -DSAFETY -DCOLLAPSE -DMEMLIM="$MEMLIM" -o pan pan.c >cc.out 2>&1); then
		echo "  [model] $name: FAILED to build the verifier:"
		cat "$d/spin.out" "$d/cc.out" 2>/dev/null | head -20 | sed 's/^/  [model]   /'
		failed=$((failed + 1))
		return
	fi
	start=$(date +%s)
	(cd "$d" && timeout "$TLIMIT" nice -n 19 ./pan -m200000 >pan.out 2>&1)
	rc=$?
	secs=$(($(date +%s) - start))
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$d/pan.out" | tail -1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$d/pan.out" | tail -1)
	incomplete=""
	if [ $rc -eq 124 ]; then
		incomplete="timed out after ${TLIMIT} s"
	elif grep -q 'reached -DMEMLIM bound' "$d/pan.out"; then
		incomplete="memory bound ${MEMLIM} MiB reached"
	elif grep -q 'max search depth too small' "$d/pan.out"; then
		incomplete="search depth too small"
	elif [ -z "$errors" ]; then
		incomplete="no result (pan exit $rc)"
	fi
	what="${states:-?} states, ${secs} s"
	if [ "$expect" = pass ]; then
		if [ -z "$incomplete" ] && [ "$errors" = 0 ]; then
			echo "  [model] $name: ok, verified: no two copies ($what, faults $NFAULTS)"
			passed=$((passed + 1))
		else
			echo "  [model] $name: FAILED: ${incomplete:-$errors error(s)} ($what)"
			grep -E 'assertion violated|error' "$d/pan.out" | head -3 | sed 's/^/  [model]   /'
			trail "$d" "$@"
			failed=$((failed + 1))
		fi
		return
	fi
	if [ -n "$errors" ] && [ "$errors" -gt 0 ] && grep -q 'assertion violated' "$d/pan.out"; then
		echo "  [model] $name: ok, counterexample found as it must ($what)"
		passed=$((passed + 1))
		[ "$VERBOSE" = 1 ] && trail "$d" "$@"
	else
		echo "  [model] $name: FAILED: no counterexample (${incomplete:-search complete}, $what)"
		failed=$((failed + 1))
	fi
}

# the counterexample's events, and the units around them
trail() {
	d=$1
	shift
	[ -f "$d/fencing.pml.trail" ] || return 0
	(cd "$d" && "$SPIN" -t -DNFAULTS="$NFAULTS" "$@" fencing.pml 2>&1) |
		sed -n 's/^ *MSC: //p' | grep -v -E '^unit: up 111 frz 000 iso 000 runs 100' |
		tail -40 | sed 's/^/  [model]     /'
}

check real pass
check no-extra fail -DNO_EXTRA
check no-watchdog fail -DNO_WDOG
# its counterexamples need two faults (a cut, a heal, a second cut)
if [ "$NFAULTS" -ge 2 ]; then
	check no-membership-reset fail -DNO_MEMBERSHIP_RESET
fi

echo "model: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
