#!/bin/bash
# Migration case e: power the target host off mid-stream (3 hosts with
# xenha-fenced).  The target is confirmed fenced; the source breaks the
# stream at once and, since no COMMIT left it, resumes: the domain keeps
# running on its source (the same process), the migration is recorded as
# aborted, the target's domains are restarted elsewhere, each exactly once,
# and every surviving host shows the same placement.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case me_poweroff_target

XH_SIM_HOLD_MB=32
XH_SIM_DIRTY_KIB_S=16384
D=mp
xh_mig_case_up 3 "$D" fenced
pid=$XH_MIG_PID
on3=$(xh_doms_on 1 3)

xh_mig_begin_slow 2 "$D" 3 || xh_fail "migration did not start streaming"
t0=${EPOCHREALTIME/[.,]/}
xh_poweroff 3 || xh_fail "poweroff h3"
xh_log "powered h3 off mid-stream"
xh_mig_resumed "$D" "$pid" 60 "$t0" "the power-off"
[ "$(xh_nodef 1 h3 fence)" = confirmed ] || xh_fail "h3 is not confirmed fenced"
# shellcheck disable=SC2086
xh_wait_until 30 "h3's domains running once on h1/h2" xh_recovered 1 3 $on3 ||
	xh_fail "h3's domains not recovered"
xh_wait_until 15 "same placement on h1 and h2" xh_same_placement 1 2 ||
	xh_fail "hosts disagree on the placement"
xh_check_copies 1 || xh_fail "single-copy check at the end"
xh_pass
