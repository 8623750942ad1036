#!/bin/bash
# Case b (restart): a domain with --max-restarts 2 is restarted in place
# (within 2 s, generation + 1) after each of two crashes, and relocated to
# another host after the third.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case b_restart

D=rb
xh_up 3 || xh_fail "cluster did not come up"
# a neighbour on every host, so the cluster is not idle
for i in 1 2 3; do
	xh_hactl 1 domain add "n$i" --memory 256 --prefer "h$i" >/dev/null || xh_fail "add n$i"
done
xh_hactl 1 domain add "$D" --memory 512 --max-restarts 2 >/dev/null || xh_fail "add $D"
xh_wait_until 30 "4 domains running" xh_all_running 1 4 || xh_fail "domains not running"

# is domain D running at generation GEN in host 1's view, with a live process?
running_at() { # GEN
	local d h
	d=$(xh_dom 1 "$D") || return 1
	echo "$d" | xh_jqe --argjson g "$1" '.state == "running" and .generation == $g' >/dev/null || return 1
	h=$(echo "$d" | jq -r .host)
	xh_simpid "${h#h}" "$D" >/dev/null
}

gen=$(xh_domf 1 "$D" generation)
host=$(xh_domf 1 "$D" host)
pid=$(xh_simpid "${host#h}" "$D") || xh_fail "no live sim process for $D on $host"
xh_log "$D runs on $host gen=$gen pid=$pid"

# seconds from T_KILL_US to the "starting => running" event of D in the
# history (the time of the STARTED command, from the reporting host's
# clock: this machine's), empty if there is none
hist_dt() { # T_KILL_US
	xh_hactl 1 --json history -n 100 | jq -r --arg d "$D" --argjson t "$(($1 / 1000))" '
		[.events[] | select(.domain == $d and .type == "domain-state"
			and (.text | startswith("starting => running")) and .time_ms >= $t)]
		| if length > 0 then (.[0].time_ms - $t) / 1000 else empty end'
}

for round in 1 2; do
	t_kill=${EPOCHREALTIME/[.,]/}
	kill -9 "$pid"
	xh_wait_until 10 "$D running again at generation $((gen + 1))" running_at $((gen + 1)) ||
		xh_fail "$D not restarted after crash $round"
	# the poll's measure includes a poll (hactl) or so; the history has the
	# moment the state changed
	dt_poll=$(_xh_fmt_us $((XH_WAIT_END_US - t_kill)))
	dt=$(hist_dt "$t_kill")
	xh_log "crash $round: seen running by polling after ${dt_poll}s, running in the history after ${dt:-?}s"
	[ -n "$dt" ] || dt=$dt_poll
	nhost=$(xh_domf 1 "$D" host)
	restarts=$(xh_domf 1 "$D" restarts)
	npid=$(xh_simpid "${nhost#h}" "$D") || xh_fail "no live process after restart $round"
	xh_log "crash $round: running again on $nhost after ${dt}s gen=$((gen + 1)) restarts=$restarts pid=$npid"
	awk -v t="$dt" 'BEGIN { exit !(t <= 2.0) }' || xh_fail "restart $round took ${dt}s (> 2 s)"
	[ "$nhost" = "$host" ] || xh_fail "crash $round: restarted on $nhost, expected in place on $host"
	[ "$restarts" = "$round" ] || xh_fail "crash $round: restarts=$restarts, expected $round"
	[ "$npid" != "$pid" ] || xh_fail "crash $round: same pid $pid"
	xh_check_copies 1 || xh_fail "single-copy check after crash $round"
	gen=$((gen + 1))
	pid=$npid
done

kill -9 "$pid"
xh_wait_until 15 "$D running again at generation $((gen + 1))" running_at $((gen + 1)) ||
	xh_fail "$D not running after the third crash"
nhost=$(xh_domf 1 "$D" host)
xh_log "crash 3: running on $nhost after ${XH_WAITED}s relocations=$(xh_domf 1 "$D" relocations) restarts=$(xh_domf 1 "$D" restarts)"
[ "$nhost" != "$host" ] || xh_fail "crash 3: restarted on $host again, expected a relocation"
[ "$(xh_domf 1 "$D" state)" = running ] || xh_fail "state not running"
[ "$(xh_sim_count "$D")" = 1 ] || xh_fail "$D has $(xh_sim_count "$D") processes"
xh_check_copies 1 || xh_fail "single-copy check after relocation"

xh_pass
