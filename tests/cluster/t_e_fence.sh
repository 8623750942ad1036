#!/bin/bash
# Case e (host failure and fencing): confirming a member fenced is refused;
# h3 loses its link and is powered off; the survivors mark it fence pending
# and its domains lost, and start none of them until an operator confirms
# the fence (`hactl fence confirm` without a terminal and without --yes is a
# usage error); after the confirmation they run on h1/h2 within 10 s, once.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case e_fence

xh_up 3 || xh_fail "cluster did not come up"
for i in 1 2 3; do
	for k in 1 2 3; do
		xh_hactl 1 domain add "e$i$k" --memory 512 --prefer "h$i" >/dev/null || xh_fail "add e$i$k"
	done
done
xh_wait_until 30 "9 domains running" xh_all_running 1 9 || xh_fail "domains not running"
xh_check_copies 1 || xh_fail "single-copy check before the failure"
on_h3=$(xh_dom_tuples 1 | awk '$3 == "h3" { print $1 }' | tr '\n' ' ')
[ -n "$on_h3" ] || xh_fail "no domain runs on h3 (preferences ignored?)"
xh_log "on h3: $on_h3"

xh_hactl 1 fence confirm h3 --yes >/dev/null 2>&1
rc=$?
[ "$rc" = 1 ] || xh_fail "fence confirm of member h3: exit $rc, expected 1 (refused)"
[ "$(xh_nodef 1 h3 fence)" = none ] || xh_fail "h3 fence state changed by a refused confirm"

xh_log "cut h3 and power it off"
xh_cut 3
xh_poweroff 3 || xh_fail "poweroff h3"

# in host I's view: h3 fence pending, every domain of h3 lost
h3_lost() { # I
	local nodes doms d
	nodes=$(xh_hactl "$1" --json nodes) || return 1
	echo "$nodes" | xh_jqe '.nodes[] | select(.name == "h3") | .fence == "pending" and .member == false' >/dev/null || return 1
	doms=$(xh_domains_json "$1") || return 1
	for d in $on_h3; do
		echo "$doms" | xh_jqe --arg n "$d" '.domains[] | select(.name == $n) | .state == "lost"' >/dev/null || return 1
	done
}
# none of h3's domains has a process anywhere (h1, h2 processes and pid files)
h3_doms_dead() {
	local d procs pf
	procs=$(xh_sim_procs)
	pf=$(xh_sim_pidfiles)
	for d in $on_h3; do
		echo "$procs" | awk -v d="$d" '$3 == d { f = 1 } END { exit f }' || { xh_err "$d has a process"; return 1; }
		echo "$pf" | awk -v d="$d" '$3 == d { f = 1 } END { exit f }' || { xh_err "$d has a live pid file"; return 1; }
	done
}
lost_and_dead() { h3_lost 1 && h3_lost 2 && h3_doms_dead; }

xh_wait_until 15 "h1 and h2: h3 fence pending, its domains lost" lost_and_dead ||
	xh_fail "survivors did not mark h3 pending / its domains lost"
xh_log "h3 pending, its domains lost after ${XH_WAITED}s; holding 8 s"
xh_hold 8 "h3's domains stay lost and run nowhere" lost_and_dead ||
	xh_fail "a domain of the unfenced h3 was started or left the lost state"
xh_check_copies 1 || xh_fail "single-copy check while h3 is unfenced"

# no terminal, no --yes: usage error, nothing confirmed
xh_exec 1 setsid -w "$XH_HACTL" fence confirm h3 </dev/null >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] || xh_fail "fence confirm without a terminal and without --yes: exit $rc, expected 2"
[ "$(xh_nodef 1 h3 fence)" = pending ] || xh_fail "h3 no longer pending after an unconfirmed fence confirm"

xh_log "fence confirm h3 --yes on h1"
xh_hactl 1 fence confirm h3 --yes >/dev/null || xh_fail "fence confirm h3 --yes failed (exit $?)"
t0=${EPOCHREALTIME/[.,]/}

recovered() {
	local doms d
	doms=$(xh_domains_json 1) || return 1
	for d in $on_h3; do
		echo "$doms" | xh_jqe --arg n "$d" '.domains[] | select(.name == $n)
			| .state == "running" and (.host == "h1" or .host == "h2")' >/dev/null || return 1
	done
}
xh_wait_until 15 "h3's domains running on h1/h2" recovered || xh_fail "h3's domains not recovered"
dt=$(_xh_fmt_us $((XH_WAIT_END_US - t0)))
xh_log "recovered ${dt}s after the confirmation"
awk -v t="$dt" 'BEGIN { exit !(t <= 10.0) }' || xh_fail "recovery took ${dt}s (> 10 s)"
[ "$(xh_nodef 1 h3 fence)" = confirmed ] || xh_fail "h3 fence state is not confirmed"
xh_wait_until 10 "all 9 domains running" xh_all_running 1 9 || xh_fail "not all domains running"
for d in $on_h3; do
	[ "$(xh_sim_count "$d")" = 1 ] || xh_fail "$d has $(xh_sim_count "$d") processes"
done
xh_check_copies 1 || xh_fail "single-copy check after the recovery"
xh_check_copies 2 || xh_fail "single-copy check (h2's view) after the recovery"

xh_pass
