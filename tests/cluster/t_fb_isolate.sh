#!/bin/bash
# Fencing case b (network isolation, storage fine): h3's switch port leaves
# the bridge; its heartbeat disk still works.  Alone, h3 has no quorum and
# no lease: it stops petting, and its (test) watchdog powers it off.  The
# survivors restart its domains only after the lease + watchdog time, each
# exactly once; the oracle confirms no two copies ever overlapped.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case fb_isolate

xh_fence_up 3 || xh_fail "cluster with fencing did not come up"
on3=$(xh_doms_on 1 3)
[ -n "$on3" ] || xh_fail "no domain runs on h3"
xh_log "on h3: $on3"

t0=${EPOCHREALTIME/[.,]/}
xh_cut 3 || xh_fail "cut h3"
xh_wait_until 20 "h3's test watchdog fired (self-fence)" xh_testwd_fired 3 ||
	xh_fail "h3 did not self-fence"
xh_log "h3 self-fenced $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the cut"
grep -q 'stopped petting the watchdog: no-lease' "$XH_DIR/h3/log/fenced.log" ||
	xh_fail "h3's fenced did not log that it stopped petting for lack of a lease"
# shellcheck disable=SC2086
xh_wait_until 30 "h3's domains running once on h1/h2" xh_recovered 1 3 $on3 ||
	xh_fail "h3's domains not recovered"
xh_log "recovered $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the cut"
xh_wait_until 10 "all 6 domains running" xh_all_running 1 6 || xh_fail "not all domains running"
xh_check_copies 1 || xh_fail "single-copy check after the recovery"
xh_pass
