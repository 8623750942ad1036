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
xh_fence_up 3 || xh_fail "cluster with fencing did not come up"
xh_hactl 1 domain add "$D" --memory 256 --prefer h1 >/dev/null || xh_fail "add $D"
xh_wait_until 30 "$D running on h1" xh_settled "$D" || xh_fail "$D not running"
pid=$(xh_simpid 1 "$D") || xh_fail "no process of $D on h1"
on3=$(xh_doms_on 1 3)

xh_mig_begin_slow 2 "$D" 3 || xh_fail "migration did not start streaming"
t0=${EPOCHREALTIME/[.,]/}
xh_poweroff 3 || xh_fail "poweroff h3"
xh_log "powered h3 off mid-stream"
xh_wait_until 60 "$D running again by the state" xh_settled "$D" ||
	xh_fail "$D did not settle after the target's power-off"
xh_log "settled $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the power-off"
[ "$(xh_domf 1 "$D" host)" = h1 ] || xh_fail "$D is not on h1"
[ "$(xh_simpid 1 "$D")" = "$pid" ] || xh_fail "$D's process on h1 changed (restarted, not resumed)"
[ "$(xh_nodef 1 h3 fence)" = confirmed ] || xh_fail "h3 is not confirmed fenced"
e=$(xh_event 1 migration "aborted")
[ -n "$e" ] || xh_fail "no aborted migration in the history"
xh_log "history: $e"
# shellcheck disable=SC2086
xh_wait_until 30 "h3's domains running once on h1/h2" xh_recovered 1 3 $on3 ||
	xh_fail "h3's domains not recovered"
xh_wait_until 15 "same placement on h1 and h2" xh_same_placement 1 2 ||
	xh_fail "hosts disagree on the placement"
xh_check_copies 1 || xh_fail "single-copy check at the end"
xh_pass
