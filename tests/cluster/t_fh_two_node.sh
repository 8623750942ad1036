#!/bin/bash
# Fencing case h (two hosts, link cut): with 2 hosts neither half has quorum
# after a split, so the heartbeat disk breaks the tie: the lowest node id
# with a fresh heartbeat (h1) keeps running, h2 self-fences.  Exactly one
# side keeps running; nothing runs twice.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case fh_two_node

xh_fence_up 2 || xh_fail "2-host cluster with fencing did not come up"
on1=$(xh_doms_on 1 1)
on2=$(xh_doms_on 1 2)
t0=${EPOCHREALTIME/[.,]/}
xh_cut 2 || xh_fail "cut h2"
one_fired() { xh_testwd_fired 1 || xh_testwd_fired 2; }
xh_wait_until 20 "one side self-fenced" one_fired || xh_fail "neither side self-fenced"
xh_log "one side self-fenced $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the cut"
xh_hold 8 "exactly one side fenced" one_fired || xh_fail "?"
if xh_testwd_fired 1 && xh_testwd_fired 2; then xh_fail "both sides self-fenced"; fi
xh_testwd_fired 2 || xh_fail "h1 (lowest id, fresh heartbeat) should have won the tie"
grep -q 'two-node tie: we win' "$XH_DIR/h1/log/fenced.log" || xh_fail "h1 did not log its tie-break win"
# h1's domains never stopped
for d in $on1; do
	[ "$(xh_sim_count "$d")" = 1 ] || xh_fail "$d does not run exactly once"
done
xh_log "h1 kept $on1; h2's ($on2) processes: $(for d in $on2; do printf '%s=%s ' "$d" "$(xh_sim_count "$d")"; done)"
for d in $on2; do
	[ "$(xh_sim_count "$d")" -le 1 ] || xh_fail "$d runs twice"
done
xh_pass
