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
xh_mig_case_up 3 "$D"
pid=$XH_MIG_PID

xh_mig_begin_slow 2 "$D" 3 || xh_fail "migration did not start streaming"
xh_block_mig 3 on || xh_fail "cannot block the migration port in h3"
t0=${EPOCHREALTIME/[.,]/}
xh_log "stream to h3 cut"
xh_mig_resumed "$D" "$pid" 90 "$t0" "the cut"
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
