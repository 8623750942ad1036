#!/bin/bash
# bench/failover.sh - time from a host fault until every HA domain of the
# lost host runs again elsewhere, with xenha-fenced (no operator).
#
# Usage: bench/failover.sh [--runs N] [--scenarios "a b c"] [--json FILE]
#   a  power the host off (link down, every process killed)
#   b  isolate its network (storage fine): it self-fences by its watchdog
#   c  freeze the whole host (SIGSTOP to every process): its watchdog fires
# Settings: corosync token 1000 ms, token_coefficient 0, watchdog W = 2 s,
# msgwait 4 s, tick 100 ms, lease 800 ms, margin 300 ms (override with
# XH_TICK_MS, XH_LEASE_MS, XH_MARGIN_MS, XH_WD_S).  3 hosts; each run adds
# 2 domains that prefer h3, faults h3, waits for both to run on h1/h2,
# then powers h3 on again and removes the run's domains.
# Breakdown from the replicated history (times in ms after the fault):
#   detect   xenhad marks the host pending (membership loss)
#   fence    xenha-fenced confirms it fenced (the lease + watchdog wait)
#   place    the last of its domains is placed on a survivor
#   start    the last of its domains reports running
# Prints p50/p99 per scenario and component; --json writes them.  A
# benchmark, not a test: it prints figures and passes or fails nothing on
# timings.  Needs root (network namespaces, loop device).
set -u
here=$(cd "$(dirname "$0")" && pwd)
runs=20 scen="a b c" json=""
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--scenarios) scen=$2; shift 2 ;;
	--json) json=$2; shift 2 ;;
	-h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--runs N] [--scenarios \"a b c\"] [--json FILE]" >&2; exit 2 ;;
	esac
done
export XH_PREFIX=${XH_PREFIX:-xhbf} XH_NET=${XH_NET:-198.18.6}
export XH_TICK_MS=${XH_TICK_MS:-100} XH_LEASE_MS=${XH_LEASE_MS:-800} XH_MARGIN_MS=${XH_MARGIN_MS:-300}
export XH_WD_S=${XH_WD_S:-2} XH_MSGWAIT_S=${XH_MSGWAIT_S:-4} XH_TOKEN=1000
# shellcheck source=../tests/cluster/lib.sh
. "$here/../tests/cluster/lib.sh"
xh_prereq || exit 1
xh_lock || exit 1
out=$(mktemp -d)
trap 'xh_down >/dev/null 2>&1; rm -rf "$out"' EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(( ${EPOCHREALTIME/[.,]/} / 1000 )); }

# fault on h3 for scenario S
fault() {
	case $1 in
	a) xh_poweroff 3 ;;
	b) xh_cut 3 ;;
	c) xh_freeze 3 ;;
	esac
}
# bring h3 back: whatever state the fault left it in
restore() {
	xh_thaw 3
	xh_poweroff 3 >/dev/null 2>&1
	xh_poweron 3 || return 1
	xh_wait_up 3 60 >/dev/null || return 1
	fenced_ok() { xh_hactl 3 --json fence status 2>/dev/null | xh_jqe '.armed and .petting' >/dev/null; }
	xh_wait_until 30 "h3's fenced armed" fenced_ok >/dev/null || { xh_hactl 3 --json fence status >&2; return 1; }
	# the peers must see h3's watchdog armed again before the next fault
	peer_sees() { xh_hactl 1 --json fence status 2>/dev/null | xh_jqe '.peers[] | select(.name == "h3") | .armed and .member' >/dev/null; }
	xh_wait_until 10 "h1 sees h3 armed" peer_sees >/dev/null
}

for s in $scen; do
	XH_FENCED=1
	xh_down >/dev/null 2>&1
	xh_up 3 >/dev/null || { echo "failover: cluster did not come up" >&2; exit 1; }
	for i in 1 2 3; do xh_wait_until 30 "h$i armed" xh_fenced_armed "$i" >/dev/null || exit 1; done
	: > "$out/$s.txt"
	for r in $(seq 1 "$runs"); do
		d1="b${s}${r}x" d2="b${s}${r}y"
		for d in $d1 $d2; do xh_hactl 1 domain add "$d" --memory 128 --prefer h3 >/dev/null || exit 1; done
		on3() { [ "$(xh_domf 1 "$d1" host)" = h3 ] && [ "$(xh_domf 1 "$d1" state)" = running ] &&
			[ "$(xh_domf 1 "$d2" host)" = h3 ] && [ "$(xh_domf 1 "$d2" state)" = running ]; }
		xh_wait_until 30 "run $r: domains on h3" on3 >/dev/null || { echo "run $r: domains not on h3" >&2; exit 1; }
		sleep 1
		t0=$(now_ms)
		fault "$s"
		xh_wait_until 40 "run $r: recovered" xh_recovered 1 3 "$d1" "$d2" >/dev/null ||
			{ echo "failover $s run $r: not recovered" >&2; exit 1; }
		hist=$(xh_hactl 1 --json history -n 200)
		line=$(echo "$hist" | jq -r --argjson t0 "$t0" --arg a "$d1" --arg b "$d2" '
			[.events[] | select(.time_ms >= $t0)] as $e
			| ([$e[] | select(.type == "fence-pending" and (.text | contains("h3")))][0].time_ms) as $pend
			| ([$e[] | select(.type == "fence-confirmed" and (.text | contains("h3")))][0].time_ms) as $conf
			| ([$e[] | select((.domain == $a or .domain == $b) and (.text | contains("=> starting")))] | map(.time_ms) | max) as $place
			| ([$e[] | select((.domain == $a or .domain == $b) and (.text | contains("=> running")))] | map(.time_ms) | max) as $run
			| "\($pend - $t0) \($conf - $t0) \($place - $t0) \($run - $t0)"')
		echo "$line" >> "$out/$s.txt"
		printf 'failover %s run %2d: detect %s fence %s place %s start %s (ms after the fault)\n' "$s" "$r" $line
		xh_check_copies 1 >/dev/null 2>&1 || { echo "failover $s run $r: single-copy check FAILED" >&2; exit 1; }
		restore || { echo "failover $s run $r: h3 did not come back" >&2; exit 1; }
		for d in $d1 $d2; do
			xh_hactl 1 domain stop "$d" >/dev/null
		done
		stopped() { [ "$(xh_domf 1 "$d1" state)" = stopped ] && [ "$(xh_domf 1 "$d2" state)" = stopped ]; }
		xh_wait_until 30 "run $r: stopped" stopped >/dev/null
		for d in $d1 $d2; do xh_hactl 1 domain remove "$d" >/dev/null; done
	done
	xh_oracle >/dev/null || { echo "failover $s: ORACLE FOUND A SPLIT BRAIN" >&2; exit 1; }
done
xh_down >/dev/null 2>&1

# p50/p99 (nearest rank) per scenario and column; plain awk + sort (no gawk)
pct() { # FILE COLUMN P
	sort -n -k "$2,$2" "$1" | awk -v c="$2" -v p="$3" '{ v[NR] = $c } END {
		k = int((p * NR + 99) / 100); if (k < 1) k = 1; print v[k] }'
}
summary=$(for s in $scen; do
	n=$(wc -l < "$out/$s.txt")
	c=1
	for part in detect fence place start; do
		echo "$s $part $(pct "$out/$s.txt" $c 50) $(pct "$out/$s.txt" $c 99) $n"
		c=$((c + 1))
	done
done)
echo
echo "failover (3 hosts, token 1000 ms, W ${XH_WD_S} s, tick $XH_TICK_MS, lease $XH_LEASE_MS, margin $XH_MARGIN_MS; ms after the fault)"
printf '%-9s %-7s %8s %8s %5s\n' scenario part p50 p99 runs
echo "$summary" | while read -r s p a b n; do
	case $s in a) name=poweroff ;; b) name=isolate ;; c) name=freeze ;; *) name=$s ;; esac
	printf '%-9s %-7s %8s %8s %5s\n' "$name" "$p" "$a" "$b" "$n"
done
echo "(start = every HA domain of the lost host runs again; goal p50 <= 5000, p99 <= 7000)"
if [ -n "$json" ]; then
	echo "$summary" | awk -v tick="$XH_TICK_MS" -v lease="$XH_LEASE_MS" -v margin="$XH_MARGIN_MS" -v wd="$XH_WD_S" '
	BEGIN { printf "{\"bench\":\"failover\",\"token_ms\":1000,\"watchdog_s\":%s,\"tick_ms\":%s,\"lease_ms\":%s,\"margin_ms\":%s,\"results\":[", wd, tick, lease, margin }
	{ printf "%s{\"scenario\":\"%s\",\"part\":\"%s\",\"p50_ms\":%s,\"p99_ms\":%s,\"runs\":%s}", (NR > 1 ? "," : ""), $1, $2, $3, $4, $5 }
	END { printf "]" }' > "$json"
	printf ',"runs_ms":{' >> "$json"
	first=1
	for s in $scen; do
		[ $first = 1 ] || printf ',' >> "$json"
		first=0
		printf '"%s":[%s]' "$s" "$(awk '{ printf "%s[%s,%s,%s,%s]", (NR > 1 ? "," : ""), $1, $2, $3, $4 }' "$out/$s.txt")" >> "$json"
	done
	echo '}}' >> "$json"
	echo "written: $json"
fi
