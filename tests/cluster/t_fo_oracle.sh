#!/bin/bash
# Fencing case o (the checks can fail): freeze h2, then have an operator
# wrongly confirm it fenced before its watchdog could act (the test
# watchdog of h2 is stopped first, so it never fires: a broken watchdog).
# The survivors restart h2's domains while h2's copies are only frozen;
# after SIGCONT both copies run.  The single-copy check and the oracle
# must both catch it: this case passes when they FAIL.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case fo_oracle

xh_fence_up 3 || xh_fail "cluster with fencing did not come up"
on2=$(xh_doms_on 1 2)
[ -n "$on2" ] || xh_fail "no domain on h2"
# break h2's watchdog: stop its supervisor (SIGTERM: exits without firing)
pid=$(cat "$XH_DIR/h2/testwd.xhpid")
kill -TERM "$pid"
_xh_wait_gone "$pid" 50 || xh_fail "h2's test watchdog did not stop"
rm -f "$XH_DIR/h2/testwd.xhpid"
xh_freeze 2
pending() { [ "$(xh_nodef 1 h2 fence)" = pending ]; }
xh_wait_until 20 "h2 pending" pending || { xh_thaw 2; xh_fail "h2 not pending"; }
xh_hactl 1 fence confirm h2 --yes >/dev/null || { xh_thaw 2; xh_fail "operator confirm refused"; }
# the frozen copies still exist, so xh_recovered (one process each) cannot hold
restarted() {
	local doms d
	doms=$(xh_domains_json 1 2>/dev/null) || return 1
	for d in $on2; do
		echo "$doms" | xh_jqe --arg n "$d" '.domains[] | select(.name == $n)
			| .state == "running" and .host != "h2"' >/dev/null || return 1
	done
}
xh_wait_until 30 "h2's domains started again on h1/h3" restarted ||
	{ xh_thaw 2; xh_fail "h2's domains not restarted"; }
# two processes per domain now (the frozen ones count: they hold the image)
if xh_check_copies 1 2>/dev/null; then xh_thaw 2; xh_fail "the single-copy check missed two copies"; fi
xh_thaw 2
sleep 2   # the thawed copies write their records until h2's xenhad stops them
out=$(xh_oracle 2>&1)
[ $? = 1 ] || xh_fail "the oracle missed the split brain: $out"
xh_log "both checks caught the wrongly confirmed host"
xh_poweroff 2
xh_pass expect-split-brain
