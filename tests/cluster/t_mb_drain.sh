#!/bin/bash
# Migration case b: `hactl node standby` drains 10 domains off a host by
# live migration, at most 2 at a time ([migration] max_concurrent), and
# shows progress; afterwards nothing runs there, every domain runs once,
# no domain was restarted, every host shows the same placement, and
# `node online` makes the host eligible again.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case mb_drain

XH_SIM_HOLD_MB=8
XH_SIM_DIRTY_KIB_S=2048
xh_up 3 || xh_fail "cluster did not come up"
for i in $(seq 1 10); do
	xh_hactl 1 domain add "dr$i" --memory 128 --prefer h1 >/dev/null || xh_fail "add dr$i"
done
xh_hactl 1 domain add other --memory 128 --prefer h2 >/dev/null || xh_fail "add other"
xh_wait_until 40 "11 domains running" xh_all_running 1 11 || xh_fail "domains not running"
[ "$(xh_doms_on 1 1 | wc -w)" = 10 ] || xh_fail "not 10 domains on h1: $(xh_doms_on 1 1)"

t0=${EPOCHREALTIME/[.,]/}
out=$(xh_hactl 2 --timeout 300 node standby h1 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
[ "$rc" = 0 ] || xh_fail "node standby h1: exit $rc"
xh_log "drained in $(_xh_fmt_us $((${EPOCHREALTIME/[.,]/} - t0)))s"
echo "$out" | grep -q "^host h1 drained: 10 domains moved" || xh_fail "no drained line"
max=$(echo "$out" | sed -n 's/.*(\([0-9]*\) migrating)$/\1/p' | sort -n | tail -1)
[ "${max:-0}" -le 2 ] || xh_fail "more than 2 migrations at once: $max"
[ -z "$(xh_doms_on 1 1)" ] || xh_fail "still on h1: $(xh_doms_on 1 1)"
xh_wait_until 10 "11 domains running" xh_all_running 1 11 || xh_fail "not all running"
for i in $(seq 1 10); do
	[ "$(xh_domf 1 "dr$i" restarts)" = 0 ] || xh_fail "dr$i was restarted, not migrated"
done
xh_wait_until 10 "same placement on every host" xh_same_placement 1 2 3 ||
	xh_fail "hosts disagree on the placement"
xh_check_copies 1 || xh_fail "single-copy check after the drain"
none_on_h1() { [ -z "$(xh_doms_on 1 1)" ]; }
back_on_h1() { [ "$(xh_domf 1 back host)" = h1 ] && [ "$(xh_domf 1 back state)" = running ]; }
xh_hold 3 "nothing goes back to h1 while it is standby" none_on_h1 ||
	xh_fail "a domain went back to standby h1"

xh_hactl 1 node online h1 >/dev/null || xh_fail "node online h1"
xh_hactl 1 domain add back --memory 128 --prefer h1 >/dev/null || xh_fail "add back"
xh_wait_until 20 "back runs on h1" back_on_h1 ||
	xh_fail "h1 takes no domain after node online"
xh_check_copies 1 || xh_fail "single-copy check at the end"
xh_pass
