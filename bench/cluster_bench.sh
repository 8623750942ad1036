#!/bin/bash
# cluster_bench.sh - cluster figures on a real 3-host namespace cluster
# (real corosync, real xenhad, sim hypervisor).  Not a pass/fail test:
# it prints figures and writes them as JSON.
#
#   bench/cluster_bench.sh [--json FILE] [--domains N] [--sets N]
#
# 1. commands/s applied on all 3 nodes through CPG: bench_cpg (a CPG client
#    on h1) multicasts N DOMAIN_ADD commands, then M DOMAIN_SET commands,
#    32 wire frames per CPG message (as xenhad batches its own sends), then
#    5000 DOMAIN_SET with one command per message; the clock stops when the
#    last of the 3 xenhads has applied the last one (its state seq, read
#    with hactl status --json every 20 ms, so short phases read a little slow).
# 2. xenhad RSS (VmRSS) on each host holding N domain definitions.
# Needs root.  Env: XENHA_BUILD (build tree), as tests/cluster/lib.sh.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
export XH_PREFIX=${XH_PREFIX:-xhbench}
export XH_NET=${XH_NET:-198.18.4}
json_out="" ndom=5000 nsets=20000
while [ $# -gt 0 ]; do
	case $1 in
	--json) json_out=$2; shift 2 ;;
	--domains) ndom=$2; shift 2 ;;
	--sets) nsets=$2; shift 2 ;;
	*) echo "usage: $0 [--json FILE] [--domains N] [--sets N]" >&2; exit 2 ;;
	esac
done
# shellcheck source=../tests/cluster/lib.sh
. "$top/tests/cluster/lib.sh"
BENCH_CPG=$XENHA_BUILD/bench/bench_cpg
[ -x "$BENCH_CPG" ] || { echo "cluster_bench: build first ($BENCH_CPG missing)" >&2; exit 1; }

cleanup() { xh_down >/dev/null 2>&1; }
trap cleanup EXIT
xh_down >/dev/null 2>&1
xh_up 3 >/dev/null || { echo "cluster_bench: cluster did not come up" >&2; exit 1; }

now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
seq_of() { xh_hactl "$1" --json status 2>/dev/null | jq -r '.cluster.seq // 0'; }

# wait until every host's seq >= $1; prints the elapsed us of the slowest host since $2
wait_seq() {
	local want=$1 t0=$2 i s deadline done_at=()
	deadline=$(( $(now_us) + 300000000 ))
	for i in 1 2 3; do
		while :; do
			s=$(seq_of "$i")
			[ -n "$s" ] && [ "$s" -ge "$want" ] && break
			[ "$(now_us)" -lt "$deadline" ] || { echo "timeout"; return 1; }
			sleep 0.02
		done
		done_at+=("$(( $(now_us) - t0 ))")
	done
	printf '%s\n' "${done_at[@]}" | sort -n | tail -n 1
}

run_phase() { # NAME N ARGS...
	local name=$1 n=$2 s0 t0 us rate
	shift 2
	s0=$(seq_of 1)
	t0=$(now_us)
	xh_exec 1 env BENCH_BATCH="${BENCH_BATCH:-32}" "$BENCH_CPG" "$@" >"$XH_DIR/bench_$name.out" 2>&1 ||
		{ echo "cluster_bench: bench_cpg $name failed: $(cat "$XH_DIR/bench_$name.out")" >&2; return 1; }
	us=$(wait_seq $((s0 + n)) "$t0") || return 1
	cat "$XH_DIR/bench_$name.out" >&2
	rate=$(awk -v n="$n" -v us="$us" 'BEGIN{printf "%.0f", n / (us / 1e6)}')
	echo "$name: $n commands applied on all 3 nodes in $(awk -v us="$us" 'BEGIN{printf "%.3f", us/1e6}') s = $rate commands/s" >&2
	echo "$rate $us"
}

add=$(run_phase add "$ndom" add "$ndom" bench) || exit 1
set=$(run_phase set "$nsets" set "$nsets" bench "$ndom") || exit 1
# the same with one command per CPG message (no batching), for comparison
one=$(BENCH_BATCH=1 run_phase set_unbatched 5000 set 5000 bench "$ndom") || exit 1

rss=()
for i in 1 2 3; do
	pid=$(xh_xenhad_pid "$i")
	kb=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")
	rss+=("$kb")
	echo "xenhad h$i: VmRSS $((kb / 1024)) MiB with $ndom domain definitions" >&2
done
total=$(xh_hactl 1 --json status | jq -r '.domains.total')
echo "domains in the state: $total" >&2
t0=$(now_us)
listed=$(xh_hactl 1 --json domains | jq '.domains | length')
list_us=$(( $(now_us) - t0 ))
echo "hactl domains: listed $listed domains in $(awk -v us="$list_us" 'BEGIN{printf "%.3f", us/1e6}') s (paged)" >&2

read -r add_rate add_us <<<"$add"
read -r set_rate set_us <<<"$set"
read -r one_rate one_us <<<"$one"
max_rss=$(printf '%s\n' "${rss[@]}" | sort -n | tail -n 1)
result=$(jq -n --argjson add_rate "$add_rate" --argjson add_us "$add_us" --argjson ndom "$ndom" \
	--argjson set_rate "$set_rate" --argjson set_us "$set_us" --argjson nsets "$nsets" \
	--argjson one_rate "$one_rate" --argjson one_us "$one_us" \
	--argjson listed "${listed:-0}" --argjson list_us "$list_us" \
	--argjson r1 "${rss[0]}" --argjson r2 "${rss[1]}" --argjson r3 "${rss[2]}" --argjson max "$max_rss" \
	'{bench:"cluster", hosts:3,
	  cpg_add:{commands:$ndom, seconds:($add_us/1e6), per_s:$add_rate},
	  cpg_set:{commands:$nsets, seconds:($set_us/1e6), per_s:$set_rate},
	  cpg_set_unbatched:{commands:5000, seconds:($one_us/1e6), per_s:$one_rate},
	  hactl_domains:{listed:$listed, seconds:($list_us/1e6)},
	  xenhad_rss_kib:{h1:$r1, h2:$r2, h3:$r3, max:$max, domains:$ndom},
	  goals:{per_s:5000, rss_mib:32}}')
echo "$result"
[ -n "$json_out" ] && echo "$result" > "$json_out"
exit 0
