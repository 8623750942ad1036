#!/bin/bash
# Case c (xenhad crash): kill -9 xenhad on h2 and start it again.  Its
# domains keep running meanwhile (same processes); after the restart h2 is
# a synced member, no domain changed generation or process, none runs twice.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case c_xenhad_restart

xh_up 3 || xh_fail "cluster did not come up"
for i in 1 2 3; do
	for k in 1 2 3; do
		xh_hactl 1 domain add "c$i$k" --memory 256 --prefer "h$i" >/dev/null || xh_fail "add c$i$k"
	done
done
xh_wait_until 30 "9 domains running" xh_all_running 1 9 || xh_fail "domains not running"
xh_check_copies 1 || xh_fail "single-copy check before the crash"

before=$(xh_dom_tuples 1)
procs=$(xh_sim_snapshot)
on_h2=$(echo "$before" | awk '$3 == "h2" { print $1 }' | tr '\n' ' ')
[ -n "$on_h2" ] || xh_fail "no domain runs on h2 (preferences ignored?)"
xh_log "on h2: $on_h2"

pid=$(xh_xenhad_pid 2) || xh_fail "no xenhad on h2"
xh_log "kill -9 xenhad on h2 (pid $pid)"
xh_kill_xenhad 2 KILL
_xh_alive "$pid" && xh_fail "xenhad $pid survived SIGKILL"

same_procs() { [ "$(xh_sim_snapshot)" = "$procs" ]; }
xh_hold 5 "sim processes unchanged while xenhad on h2 is down" same_procs ||
	xh_fail "domains changed while xenhad on h2 was down: $(diff <(echo "$procs") <(xh_sim_snapshot) | grep '^[<>]' | tr '\n' ' ')"
xh_check_copies 1 || xh_fail "single-copy check while xenhad on h2 is down"
xh_log "h1 sees h2 as: fence=$(xh_nodef 1 h2 fence) member=$(xh_nodef 1 h2 member)"

xh_log "start xenhad on h2"
xh_start_xenhad 2 || xh_fail "cannot start xenhad on h2"
xh_wait_up 3 60 || xh_fail "h2 did not become a synced member again"
xh_log "h2 synced after ${XH_WAITED}s"
for i in 1 3; do
	[ "$(xh_nodef "$i" h2 member)" = true ] || xh_fail "h$i does not see h2 as a member"
	[ "$(xh_nodef "$i" h2 fence)" = none ] || xh_fail "h$i: h2 fence state $(xh_nodef "$i" h2 fence), expected none"
done
xh_hactl 2 --json status | xh_jqe '.local.synced == true and .local.name == "h2"' >/dev/null ||
	xh_fail "h2 does not report itself synced"
xh_wait_until 30 "9 domains running" xh_all_running 1 9 || xh_fail "domains not all running after the restart"

same_as_before() { [ "$(xh_dom_tuples "$1")" = "$before" ]; }
for i in 1 2 3; do
	xh_wait_until 5 "h$i shows the placements of before" same_as_before "$i" ||
		xh_fail "h$i: placements changed: $(diff <(echo "$before") <(xh_dom_tuples "$i") | grep '^[<>]' | tr '\n' ' ')"
done
now=$(xh_sim_snapshot)
[ "$now" = "$procs" ] || xh_fail "sim processes changed: $(diff <(echo "$procs") <(echo "$now") | grep '^[<>]' | tr '\n' ' ')"
xh_check_copies 1 || xh_fail "single-copy check after the restart"

xh_pass
