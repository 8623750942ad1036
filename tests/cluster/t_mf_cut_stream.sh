#!/bin/bash
# Migration case f: cut the link mid-stream.  Inside the target, every TCP
# segment to the migration port is dropped (nft), so the stream stalls
# silently while corosync keeps working.  The transport's TCP timeouts end
# it; no COMMIT left the source, so the domain keeps running on its source
# (the same process), the migration is recorded as aborted, the target
# runs nothing, every host shows the same placement; with the link back,
# the same migration succeeds.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case mf_cut_stream

XH_SIM_HOLD_MB=32
XH_SIM_DIRTY_KIB_S=16384
D=mf
xh_up 3 || xh_fail "cluster did not come up"
xh_hactl 1 domain add "$D" --memory 256 --prefer h1 >/dev/null || xh_fail "add $D"
xh_wait_until 30 "$D running on h1" xh_settled "$D" || xh_fail "$D not running"
pid=$(xh_simpid 1 "$D") || xh_fail "no process of $D on h1"

xh_mig_begin_slow 2 "$D" 3 || xh_fail "migration did not start streaming"
xh_block_mig 3 on || xh_fail "cannot block the migration port in h3"
t0=${EPOCHREALTIME/[.,]/}
xh_log "stream to h3 cut"
xh_wait_until 90 "$D running again by the state" xh_settled "$D" ||
	xh_fail "$D did not settle after the cut"
xh_log "settled $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the cut"
[ "$(xh_domf 1 "$D" host)" = h1 ] || xh_fail "$D is not on h1"
[ "$(xh_simpid 1 "$D")" = "$pid" ] || xh_fail "$D's process on h1 changed (restarted, not resumed)"
e=$(xh_event 1 migration "aborted")
[ -n "$e" ] || xh_fail "no aborted migration in the history"
xh_log "history: $e"
xh_wait_until 15 "same placement on every host" xh_same_placement 1 2 3 ||
	xh_fail "hosts disagree on the placement"
xh_check_copies 1 || xh_fail "single-copy check after the cut"

xh_block_mig 3 off
xh_shape 3 off
out=$(xh_hactl 2 --timeout 120 migrate "$D" h3 2>&1) || xh_fail "migrate after the link is back: $out"
xh_log "$(echo "$out" | tail -1)"
xh_wait_until 10 "one copy of $D" xh_settled "$D" || xh_fail "not one copy at the end"
xh_same_placement 1 2 3 || xh_fail "hosts disagree at the end"
xh_check_copies 1 || xh_fail "single-copy check at the end"
xh_pass
