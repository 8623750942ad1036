#!/bin/bash
# Case f (partition {1,2} | {3}): h3 loses quorum; the majority marks h3
# fence pending and its domains lost and starts none of them; h3 does not
# restart a domain that crashes while it has no quorum.  After the merge h3
# reclaims its surviving domains (same processes, same generation) and the
# crashed one is restarted exactly once.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case f_partition

xh_up 3 || xh_fail "cluster did not come up"
for i in 1 2 3; do
	for k in 1 2 3; do
		xh_hactl 1 domain add "f$i$k" --memory 256 --prefer "h$i" >/dev/null || xh_fail "add f$i$k"
	done
done
xh_wait_until 30 "9 domains running" xh_all_running 1 9 || xh_fail "domains not running"
xh_check_copies 1 || xh_fail "single-copy check before the partition"
before=$(xh_dom_tuples 1)
on_h3=$(echo "$before" | awk '$3 == "h3" { print $1 }' | tr '\n' ' ')
set -- $on_h3
[ $# -ge 2 ] || xh_fail "need at least 2 domains on h3, have: $on_h3"
victim=$1
shift
survivors="$*"
gen_victim=$(echo "$before" | awk -v d="$victim" '$1 == d { print $4 }')
procs_h3=$(xh_sim_snapshot | awk '$3 == "h3"')
xh_log "on h3: $on_h3 (victim $victim gen $gen_victim)"

xh_log "partition {1,2} | {3}"
xh_part "1 2" "3"

h3_minority() { xh_hactl 3 --json status | xh_jqe '.local.quorate == false' >/dev/null; }
majority_view() { # I: h3 pending and not a member, its domains lost
	local nodes doms d
	nodes=$(xh_hactl "$1" --json nodes) || return 1
	echo "$nodes" | xh_jqe '.nodes[] | select(.name == "h3") | .fence == "pending" and .member == false' >/dev/null || return 1
	doms=$(xh_domains_json "$1") || return 1
	for d in $on_h3; do
		echo "$doms" | xh_jqe --arg n "$d" '.domains[] | select(.name == $n) | .state == "lost"' >/dev/null || return 1
	done
}
# h3's domains: processes only on h3, at most one each
only_on_h3() {
	local procs d
	procs=$(xh_sim_procs)
	for d in $on_h3; do
		echo "$procs" | awk -v d="$d" '$3 == d && $1 != 3 { f = 1 } END { exit f }' || { xh_err "$d runs outside h3"; return 1; }
		[ "$(echo "$procs" | awk -v d="$d" '$3 == d' | wc -l)" -le 1 ] || { xh_err "$d runs twice"; return 1; }
	done
}
split_ok() { majority_view 1 && majority_view 2 && only_on_h3; }

xh_wait_until 15 "h3 non-quorate" h3_minority || xh_fail "h3 still quorate in the minority"
xh_wait_until 15 "majority: h3 pending, its domains lost" split_ok || xh_fail "majority did not mark h3 pending / its domains lost"
xh_log "split seen after ${XH_WAITED}s; holding 8 s"
xh_hold 8 "majority starts none of h3's domains" split_ok || xh_fail "the majority started a domain of the unfenced h3"

vpid=$(xh_simpid 3 "$victim") || xh_fail "no process for $victim on h3"
xh_log "kill -9 $victim (pid $vpid) on the minority h3"
kill -9 "$vpid"
victim_dead() {
	only_on_h3 || return 1
	[ "$(xh_sim_count "$victim")" = 0 ] || { xh_err "$victim was restarted without quorum"; return 1; }
}
xh_hold 5 "$victim stays dead while h3 has no quorum" victim_dead || xh_fail "$victim restarted during the partition"
now=$(xh_sim_snapshot | awk '$3 == "h3"' | grep -v "^$victim ")
want=$(echo "$procs_h3" | grep -v "^$victim ")
[ "$now" = "$want" ] || xh_fail "h3's other domains changed during the partition"

xh_log "unpart"
xh_unpart
xh_wait_up 3 60 || xh_fail "h3 did not rejoin"
xh_log "merged after ${XH_WAITED}s"
xh_wait_until 30 "9 domains running" xh_all_running 1 9 || xh_fail "not all domains running after the merge"
xh_log "all running after ${XH_WAITED}s"

for d in $survivors; do
	t=$(xh_dom_tuples 1 | awk -v d="$d" '$1 == d')
	b=$(echo "$before" | awk -v d="$d" '$1 == d')
	[ "$t" = "$b" ] || xh_fail "$d: was '$b', now '$t' (expected reclaimed, not restarted)"
done
now=$(xh_sim_snapshot | awk '$3 == "h3"' | grep -v "^$victim ")
[ "$now" = "$want" ] || xh_fail "h3's surviving domains have new processes: $(diff <(echo "$want") <(echo "$now") | grep '^[<>]' | tr '\n' ' ')"
gen=$(xh_domf 1 "$victim" generation)
[ "$gen" = $((gen_victim + 1)) ] || xh_fail "$victim generation $gen, expected $((gen_victim + 1)) (restarted exactly once)"
[ "$(xh_sim_count "$victim")" = 1 ] || xh_fail "$victim has $(xh_sim_count "$victim") processes"
xh_log "$victim restarted on $(xh_domf 1 "$victim" host) gen $gen"
# the domains of h1 and h2 were never touched
for d in $(echo "$before" | awk '$3 != "h3" { print $1 }'); do
	t=$(xh_dom_tuples 1 | awk -v d="$d" '$1 == d')
	b=$(echo "$before" | awk -v d="$d" '$1 == d')
	[ "$t" = "$b" ] || xh_fail "$d (majority side) changed: was '$b', now '$t'"
done
xh_check_copies 1 || xh_fail "single-copy check after the merge"
xh_check_copies 3 || xh_fail "single-copy check (h3's view) after the merge"

xh_pass
