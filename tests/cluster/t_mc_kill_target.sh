#!/bin/bash
# Migration case c: kill -9 the target's xenhad mid-stream.  The stream
# breaks before the switch-over, so the source resumes: the domain keeps
# running on its source (the same process), the migration is recorded as
# aborted with the reason, the target runs no copy, and after the target's
# xenhad is back every host shows the same placement; then a migration to
# it succeeds.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case mc_kill_target

XH_SIM_HOLD_MB=32
XH_SIM_DIRTY_KIB_S=16384
D=mk
xh_mig_case_up 3 "$D"
pid=$XH_MIG_PID

xh_mig_begin_slow 1 "$D" 3 || xh_fail "migration did not start streaming"
[ "$(xh_domf 1 "$D" state)" = migrating ] || xh_fail "$D is not migrating"
t0=${EPOCHREALTIME/[.,]/}
xh_kill_xenhad 3 KILL || xh_fail "kill -9 xenhad on h3"
xh_log "killed h3's xenhad mid-stream"
xh_mig_resumed "$D" "$pid" 60 "$t0" "the kill"

xh_shape 3 off
xh_start_xenhad 3 || xh_fail "start xenhad on h3"
xh_wait_up 3 60 || xh_fail "h3 did not rejoin"
xh_wait_until 15 "same placement on every host" xh_same_placement 1 2 3 ||
	xh_fail "hosts disagree on the placement"
xh_check_copies 1 || xh_fail "single-copy check after the rejoin"
out=$(xh_hactl 2 --timeout 120 migrate "$D" h3 2>&1) || xh_fail "migrate to h3 after its restart: $out"
xh_log "$(echo "$out" | tail -1)"
xh_wait_until 10 "one copy of $D" xh_settled "$D" || xh_fail "not one copy at the end"
xh_same_placement 1 2 3 || xh_fail "hosts disagree at the end"
xh_check_copies 1 || xh_fail "single-copy check at the end"
xh_pass
