#!/bin/bash
# Fencing case f (the heartbeat disk stalls, then fails, for a quorate
# host): h2's disk I/O hangs (the worker's syscall table, driven by
# h2/diskfault), then returns EIO.  h2 holds its quorum lease, so it keeps
# petting: no fencing, no domain moves; an alert is logged; when the disk
# works again, it says so.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case ff_disk_stall

xh_fence_up 3 || xh_fail "cluster with fencing did not come up"
before=$(xh_dom_tuples 1)
echo hang > "$XH_DIR/h2/diskfault"
xh_log "h2's heartbeat disk hangs"
alerted() { grep -q 'alert: heartbeat disk' "$XH_DIR/h2/log/fenced.log"; }
xh_wait_until 15 "alert in h2's log" alerted || xh_fail "no alert for the stalled disk"
grep 'alert: heartbeat disk' "$XH_DIR/h2/log/fenced.log" | tail -n 1 | sed 's/^/  /'
steady() { ! xh_testwd_fired 2 && [ "$(xh_dom_tuples 1)" = "$before" ]; }
xh_hold 8 "no fencing, no domain moves while h2's disk hangs" steady ||
	xh_fail "h2 was fenced or domains moved during a disk stall"
echo eio > "$XH_DIR/h2/diskfault"
xh_log "h2's heartbeat disk fails with EIO"
xh_hold 6 "no fencing, no domain moves while h2's disk fails" steady ||
	xh_fail "h2 was fenced or domains moved during a disk failure"
: > "$XH_DIR/h2/diskfault"
again() { grep -q 'heartbeat disk .* written again' "$XH_DIR/h2/log/fenced.log"; }
xh_wait_until 15 "h2's disk written again" again || xh_fail "no recovery message"
xh_check_copies 1 || xh_fail "single-copy check"
xh_pass
