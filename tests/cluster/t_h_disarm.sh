#!/bin/bash
# Case h (disarm): `hactl disarm --for` pauses HA actions cluster-wide: a
# domain that crashes meanwhile is not restarted (no process anywhere for
# the hold), every node shows the window in `hactl status`; `hactl arm`
# ends it and the domain runs again.  A second, short window re-arms by
# itself and the crashed domain is restarted after it.  Bad durations are
# refused with exit code 2.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case h_disarm

D=hd
xh_up 3 || xh_fail "cluster did not come up"
xh_hactl 1 domain add "$D" --memory 256 >/dev/null || xh_fail "add $D"
xh_hactl 1 domain add keep --memory 256 >/dev/null || xh_fail "add keep"
xh_wait_until 30 "2 domains running" xh_all_running 1 2 || xh_fail "domains not running"

for bad in "" "0s" "10x" "8d" "-5" "1.5h"; do
	xh_hactl 2 disarm --for "$bad" >/dev/null 2>&1
	rc=$?
	[ "$rc" = 2 ] || xh_fail "disarm --for '$bad': exit $rc, expected 2"
done
xh_hactl 2 disarm >/dev/null 2>&1
[ $? = 2 ] || xh_fail "disarm without --for: expected exit 2"

# crash D on its host; with HA disarmed nothing may start it again
crash() {
	local host pid
	host=$(xh_domf 1 "$D" host)
	pid=$(xh_simpid "${host#h}" "$D") || xh_fail "no live sim process for $D on $host"
	kill -9 "$pid"
	xh_log "killed $D (pid $pid) on $host"
}
not_running() {
	[ "$(xh_sim_count "$D")" = 0 ] && [ "$(xh_domf 1 "$D" state)" != running ]
}
running() {
	[ "$(xh_domf 1 "$D" state)" = running ] && [ "$(xh_sim_count "$D")" = 1 ]
}
disarmed_everywhere() {
	local i
	for i in 1 2 3; do
		xh_hactl "$i" status 2>/dev/null | grep -q "^HA actions:  DISARMED" || return 1
	done
}

out=$(xh_hactl 2 disarm --for 5m) || xh_fail "disarm --for 5m refused: $out"
xh_log "$out"
xh_wait_until 10 "every node shows the disarm" disarmed_everywhere || xh_fail "disarm not shown"
[ -n "$(xh_event 3 disarm "disarmed")" ] || xh_fail "no disarm event in host 3's history"
crash
xh_wait_until 10 "$D ended" not_running || xh_fail "$D still running after the crash"
xh_hold 8 "$D stays down while disarmed" not_running || xh_fail "$D restarted while disarmed"
xh_check_copies 1 || xh_fail "single-copy check while disarmed"

out=$(xh_hactl 3 arm) || xh_fail "arm refused: $out"
xh_log "$out"
[ -n "$(xh_event 1 disarm "re-armed")" ] || xh_fail "no re-arm event in host 1's history"
xh_wait_until 15 "$D running again after arm" running || xh_fail "$D not restarted after arm"
xh_log "$D running again ${XH_WAITED}s after arm"
xh_hactl 1 status | grep -q "^HA actions:  DISARMED" && xh_fail "status still shows DISARMED after arm"

# a window that ends by itself
xh_hactl 1 disarm --for 6s >/dev/null || xh_fail "disarm --for 6s refused"
t0=${EPOCHREALTIME/[.,]/}
crash
xh_wait_until 5 "$D ended" not_running || xh_fail "$D still running after the second crash"
xh_hold 2 "$D stays down inside the window" not_running || xh_fail "$D restarted inside the window"
xh_wait_until 20 "$D running again after the window" running ||
	xh_fail "$D not restarted after the window ended by itself"
xh_log "$D running again $(_xh_fmt_us $((${EPOCHREALTIME/[.,]/} - t0)))s after a 6 s disarm"
[ "$(xh_domf 1 keep state)" = running ] || xh_fail "keep is not running"
xh_check_copies 1 || xh_fail "single-copy check at the end"

xh_pass
