#!/bin/bash
# Fencing case j (the operator's commands): `hactl fence status` shows the
# lease, the watchdog and every peer armed; `hactl check` accepts the
# timings and prints the worst case; `hactl fence h2` writes a poison
# pill, h2 reads it and resets at once, and the command waits (showing
# progress) until h2 is confirmed fenced; h2's domains then run once on
# h1/h3.  Fencing an unknown host is refused (exit 5).
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case fj_hactl_fence

xh_fence_up 3 || xh_fail "cluster with fencing did not come up"
st=$(xh_hactl 1 --json fence status) || xh_fail "fence status failed"
echo "$st" | xh_jqe '.armed and .petting and .reason == "lease" and
	([.peers[] | select(.armed and .member)] | length) == 2' >/dev/null ||
	xh_fail "fence status: not armed/petting on a lease with 2 armed peers: $st"
xh_hactl 1 fence status | sed 's/^/  /'
out=$(xh_exec 1 env XENHA_FENCED="$XH_FENCED_BIN" "$XH_HACTL" check -c "$XH_DIR/h1/xenha.conf" 2>&1) ||
	xh_fail "hactl check refused the test timings: $out"
echo "$out" | grep -q 'worst-case time' || xh_fail "hactl check printed no worst case: $out"
xh_hactl 1 fence nosuchhost >/dev/null 2>&1
rc=$?
[ "$rc" = 5 ] || xh_fail "fence of an unknown host: exit $rc, expected 5"

on2=$(xh_doms_on 1 2)
t0=${EPOCHREALTIME/[.,]/}
out=$(xh_hactl 1 --timeout 60 fence h2 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
[ "$rc" = 0 ] || xh_fail "hactl fence h2: exit $rc"
echo "$out" | grep -q 'confirmed fenced after' || xh_fail "hactl fence h2 did not report the confirmation"
xh_testwd_fired 2 || xh_fail "h2 did not reset on the pill"
grep -q "poison pill 'reset' from 'h1'" "$XH_DIR/h2/log/fenced.log" || xh_fail "h2 did not log the pill"
# shellcheck disable=SC2086
xh_wait_until 30 "h2's domains running once on h1/h3" xh_recovered 1 2 $on2 ||
	xh_fail "h2's domains not recovered"
xh_log "recovered $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after hactl fence"
xh_check_copies 1 || xh_fail "single-copy check after the recovery"
xh_pass
