#!/bin/bash
# Fencing case a (power-off): 3 hosts with xenha-fenced, a loop device as
# the heartbeat disk and the test watchdog.  h3 is powered off (link down,
# every process killed).  Without any operator, the survivors confirm it
# fenced (its lease and watchdog time ran out) and run its domains again,
# each exactly once; the history shows detected, fencing started,
# confirmed, and the starts.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case fa_poweroff

xh_fence_up 3 || xh_fail "cluster with fencing did not come up"
on3=$(xh_doms_on 1 3)
[ -n "$on3" ] || xh_fail "no domain runs on h3"
xh_log "on h3: $on3"
xh_check_copies 1 || xh_fail "single-copy check before the failure"

t0=${EPOCHREALTIME/[.,]/}
xh_poweroff 3 || xh_fail "poweroff h3"
# shellcheck disable=SC2086
xh_wait_until 30 "h3's domains running once on h1/h2" xh_recovered 1 3 $on3 ||
	xh_fail "h3's domains not recovered automatically"
xh_log "recovered $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the power-off"

[ "$(xh_nodef 1 h3 fence)" = confirmed ] || xh_fail "h3 is not confirmed fenced"
for ev in fence-pending fence-started fence-confirmed; do
	e=$(xh_event 1 "$ev" h3)
	[ -n "$e" ] || xh_fail "no $ev event for h3 in the history"
	xh_log "history: $e"
done
xh_event 1 fence-confirmed h3 | grep -qE 'fenced h[12]: (timeout|poison-pill)' ||
	xh_fail "h3 was not confirmed by xenha-fenced's timeout rule (a pill confirmation also waits for it)"
xh_wait_until 10 "all 6 domains running" xh_all_running 1 6 || xh_fail "not all domains running"
xh_check_copies 1 || xh_fail "single-copy check after the recovery"
xh_check_copies 2 || xh_fail "single-copy check (h2's view)"
xh_pass
