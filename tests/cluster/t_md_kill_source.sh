#!/bin/bash
# Migration case d: kill -9 the source's xenhad mid-stream.  The stream
# breaks before the switch-over: the source domain resumes by itself and
# keeps running (the same process), the target runs nothing.  When the
# source's xenhad comes back it reclaims the domain (it runs there) and
# every host shows the same placement; no restart, no second copy.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case md_kill_source

XH_SIM_HOLD_MB=32
XH_SIM_DIRTY_KIB_S=16384
D=ms
xh_mig_case_up 3 "$D"
pid=$XH_MIG_PID

xh_mig_begin_slow 2 "$D" 3 || xh_fail "migration did not start streaming"
xh_kill_xenhad 1 KILL || xh_fail "kill -9 xenhad on h1"
xh_log "killed h1's xenhad mid-stream"
one_proc() { [ "$(xh_sim_count "$D")" = 1 ]; }
# the target's receiving process ends when the stream breaks
xh_wait_until 15 "one process of $D" one_proc || xh_fail "not one process of $D"
xh_hold 5 "exactly one process of $D while h1's xenhad is down" one_proc ||
	xh_fail "not exactly one process of $D"
[ "$(xh_simpid 1 "$D")" = "$pid" ] || xh_fail "$D's process on h1 is gone"
xh_log "h2's view: $(xh_dom_tuples 2 | tr '\n' ' ')"

xh_shape 3 off
xh_start_xenhad 1 || xh_fail "start xenhad on h1"
xh_wait_up 3 60 || xh_fail "h1 did not rejoin"
xh_wait_until 60 "$D running by the state" xh_settled "$D" || xh_fail "$D did not settle"
[ "$(xh_domf 2 "$D" host)" = h1 ] || xh_fail "$D is not on h1 by h2's view"
[ "$(xh_simpid 1 "$D")" = "$pid" ] || xh_fail "$D's process on h1 changed"
[ "$(xh_domf 1 "$D" restarts)" = 0 ] || xh_fail "$D was restarted"
xh_wait_until 15 "same placement on every host" xh_same_placement 1 2 3 ||
	xh_fail "hosts disagree on the placement"
xh_check_copies 1 || xh_fail "single-copy check at the end"
xh_pass
