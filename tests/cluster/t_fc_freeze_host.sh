#!/bin/bash
# Fencing case c (a frozen host): SIGSTOP to every process of h2 (corosync,
# xenhad, xenha-fenced, its sim domains) for longer than lease + watchdog.
# Its watchdog (outside the host, like hardware) fires and powers it off;
# the survivors restart its domains.  Then SIGCONT: nothing of h2 runs any
# more, and no domain has two copies.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case fc_freeze_host

xh_fence_up 3 || xh_fail "cluster with fencing did not come up"
on2=$(xh_doms_on 1 2)
[ -n "$on2" ] || xh_fail "no domain runs on h2"
xh_log "on h2: $on2"

t0=${EPOCHREALTIME/[.,]/}
xh_freeze 2
xh_log "h2 frozen ($(wc -l < "$XH_DIR/h2/frozen.pids") processes)"
xh_wait_until 20 "h2's watchdog fired" xh_testwd_fired 2 || { xh_thaw 2; xh_fail "h2's watchdog did not fire"; }
# shellcheck disable=SC2086
xh_wait_until 30 "h2's domains running once on h1/h3" xh_recovered 1 2 $on2 ||
	{ xh_thaw 2; xh_fail "h2's domains not recovered"; }
xh_log "recovered $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the freeze"
# stay frozen past lease + watchdog, then thaw
xh_hold 2 "still frozen" true
xh_thaw 2
xh_log "h2 thawed"
xh_hold 5 "every domain of h2 runs exactly once after the thaw" xh_recovered 1 2 $on2 ||
	xh_fail "a domain ran twice (or vanished) after h2 thawed"
[ -z "$(ip netns pids "$(_xh_ns 2)" 2>/dev/null)" ] || xh_fail "processes of h2 survived its watchdog"
xh_check_copies 1 || xh_fail "single-copy check after the thaw"
xh_pass
