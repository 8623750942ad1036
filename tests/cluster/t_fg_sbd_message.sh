#!/bin/bash
# Fencing case g (sbd compatibility): Debian's `sbd -d DEV list` shows the
# slots of xenha's hosts; `sbd -d DEV message h2 reset` is a poison pill:
# h2 resets (its test watchdog fires at once) and the survivors recover its
# domains once.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case fg_sbd_message

command -v sbd >/dev/null || xh_fail "sbd is not installed (apt-get install sbd)"
xh_fence_up 3 || xh_fail "cluster with fencing did not come up"
dev=$(cat "$XH_DIR/loopdev")
list=$(sbd -d "$dev" list 2>&1) || xh_fail "sbd list failed: $list"
echo "$list" | sed 's/^/  sbd list: /'
for h in h1 h2 h3; do
	echo "$list" | grep -qE "^[0-9]+[[:space:]]+$h[[:space:]]+clear" || xh_fail "sbd list does not show $h clear"
done
on2=$(xh_doms_on 1 2)
t0=${EPOCHREALTIME/[.,]/}
sbd -d "$dev" message h2 reset >/dev/null 2>&1 || xh_fail "sbd message h2 reset failed"
xh_wait_until 15 "h2 read the pill and reset" xh_testwd_fired 2 || xh_fail "h2 did not reset on sbd's message"
grep -q "poison pill 'reset'" "$XH_DIR/h2/log/fenced.log" || xh_fail "h2's fenced did not log the pill"
xh_log "h2 reset $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after sbd's message"
# shellcheck disable=SC2086
xh_wait_until 30 "h2's domains running once on h1/h3" xh_recovered 1 2 $on2 ||
	xh_fail "h2's domains not recovered"
xh_check_copies 1 || xh_fail "single-copy check after the recovery"
xh_pass
