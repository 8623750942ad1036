#!/bin/bash
# Fencing case e (partition 3|2 of 5 hosts): {h1,h2,h3} | {h4,h5}.  The
# minority has no quorum: both its hosts stop petting and their watchdogs
# power them off.  The majority restarts their domains, each exactly once.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case fe_partition5

xh_fence_up 5 || xh_fail "5-host cluster with fencing did not come up"
on4=$(xh_doms_on 1 4)
on5=$(xh_doms_on 1 5)
[ -n "$on4" ] && [ -n "$on5" ] || xh_fail "no domains on h4/h5"
xh_log "on h4: $on4 on h5: $on5"
t0=${EPOCHREALTIME/[.,]/}
xh_part "1 2 3" "4 5" || xh_fail "partition"
minority_fenced() { xh_testwd_fired 4 && xh_testwd_fired 5; }
xh_wait_until 20 "h4 and h5 self-fenced" minority_fenced || xh_fail "the minority did not self-fence"
xh_log "minority self-fenced $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the partition"
for i in 1 2 3; do
	! xh_testwd_fired "$i" || xh_fail "majority host h$i was fenced"
done
recovered45() {
	# shellcheck disable=SC2086
	xh_recovered 1 4 $on4 && xh_recovered 1 5 $on5 && ! echo "$(xh_doms_on 1 4)$(xh_doms_on 1 5)" | grep -q f
}
xh_wait_until 40 "h4's and h5's domains running once on h1..h3" recovered45 ||
	xh_fail "the minority's domains were not recovered"
xh_log "recovered $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the partition"
xh_wait_until 10 "all 10 domains running" xh_all_running 1 10 || xh_fail "not all domains running"
xh_check_copies 1 || xh_fail "single-copy check after the recovery"
xh_pass
