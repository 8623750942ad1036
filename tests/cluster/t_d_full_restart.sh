#!/bin/bash
# Case d (whole-cluster restart): SIGTERM xenhad, then corosync, on all 3
# hosts, one host after the other; start them all again.  The 20
# definitions (same attributes) and placements (same host, same generation)
# come back from the persisted state, and the domains that ran before run
# after, once: the same processes, never restarted.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case d_full_restart

xh_up 3 || xh_fail "cluster did not come up"
xh_add_std20 1 || xh_fail "domain add refused"
xh_wait_until 60 "20 domains running" xh_all_running 1 20 || xh_fail "not all 20 domains running"
xh_check_copies 1 || xh_fail "single-copy check before the restart"

defs_of() { # I: definitions, sorted by name
	xh_domains_json "$1" | jq -S -c '.domains | sort_by(.name)[]
		| {name, target, memory_mb, priority, restart, max_restarts, max_relocations,
		   group, preferred, avoided}'
}
defs=$(defs_of 1)
before=$(xh_dom_tuples 1)
procs=$(xh_sim_snapshot)
[ "$(echo "$defs" | wc -l)" = 20 ] || xh_fail "expected 20 definitions"

for i in 1 2 3; do
	xh_xenhad_pid "$i" >/dev/null || xh_fail "xenhad on h$i is not running before the stop"
	xh_log "SIGTERM xenhad on h$i"
	xh_kill_xenhad "$i" TERM || xh_fail "xenhad on h$i did not exit within 10 s of SIGTERM"
done
[ "$(xh_sim_snapshot)" = "$procs" ] || xh_fail "domains changed when the xenhads stopped (they must outlive xenhad)"
for i in 1 2 3; do
	xh_log "SIGTERM corosync on h$i"
	xh_stop_corosync "$i" TERM || xh_fail "corosync on h$i did not exit within 10 s of SIGTERM"
done
for i in 1 2 3; do
	[ -z "$(xh_xenhad_pid "$i")" ] || xh_fail "xenhad still runs on h$i"
done
sleep 1
[ "$(xh_sim_snapshot)" = "$procs" ] || xh_fail "domains changed while the cluster was down"

xh_log "starting corosync and xenhad on all hosts"
for i in 1 2 3; do xh_start_corosync "$i" || xh_fail "start corosync h$i"; done
for i in 1 2 3; do xh_start_xenhad "$i" || xh_fail "start xenhad h$i"; done
xh_wait_up 3 90 || xh_fail "cluster did not come back"
xh_log "cluster back after ${XH_WAITED}s"
xh_wait_until 60 "20 domains running" xh_all_running 1 20 || xh_fail "not all 20 domains running after the restart"
xh_log "all running after ${XH_WAITED}s"

for i in 1 2 3; do
	d=$(defs_of "$i")
	[ "$d" = "$defs" ] || xh_fail "h$i: definitions differ: $(diff <(echo "$defs") <(echo "$d") | grep '^[<>]' | head -4 | tr '\n' ' ')"
done
same_as_before() { [ "$(xh_dom_tuples "$1")" = "$before" ]; }
for i in 1 2 3; do
	xh_wait_until 5 "h$i shows the placements of before" same_as_before "$i" ||
		xh_fail "h$i: placements changed: $(diff <(echo "$before") <(xh_dom_tuples "$i") | grep '^[<>]' | tr '\n' ' ')"
done
now=$(xh_sim_snapshot)
[ "$now" = "$procs" ] || xh_fail "sim processes changed: $(diff <(echo "$procs") <(echo "$now") | grep '^[<>]' | tr '\n' ' ')"
[ "$(echo "$now" | wc -l)" = 20 ] || xh_fail "expected 20 sim processes"
xh_check_copies 1 || xh_fail "single-copy check after the restart"

xh_pass
