#!/bin/bash
# Fencing case i (fence agents): every host has a fence device, the test
# agent tests/cluster/fence_xhsim (it powers a host off and reads its
# status back).  h3's link is cut: the acting survivor runs the agent,
# which powers h3 off and reads back "off"; h3 is confirmed by the agent
# (not by the timeout) and its domains run again on h1/h2, once.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case fi_agent

XH_FENCE_AGENT=1
xh_fence_up 3 || xh_fail "cluster with fencing did not come up"
on3=$(xh_doms_on 1 3)
[ -n "$on3" ] || xh_fail "no domain runs on h3"
t0=${EPOCHREALTIME/[.,]/}
xh_cut 3 || xh_fail "cut h3"
# shellcheck disable=SC2086
xh_wait_until 30 "h3's domains running once on h1/h2" xh_recovered 1 3 $on3 ||
	xh_fail "h3's domains not recovered"
xh_log "recovered $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the cut"
e=$(xh_event 1 fence-confirmed h3)
xh_log "history: $e"
echo "$e" | grep -q 'fenced h[12]: agent' || xh_fail "h3 was not confirmed by the fence agent"
xh_event 1 fence-started h3 | grep -q 'agent' || xh_fail "fencing started without the agent method"
grep -hq 'fence agents: h3 is off' "$XH_DIR"/h[12]/log/fenced.log || xh_fail "no agent success logged"
xh_check_copies 1 || xh_fail "single-copy check after the recovery"
xh_pass
