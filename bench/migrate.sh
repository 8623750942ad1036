#!/bin/bash
# bench/migrate.sh - live migration through the whole cluster: xenhad,
# the TLS transport, the sim driver's pre-copy, `hactl migrate`.
#
# Usage: bench/migrate.sh [--runs N] [--mb M] [--dirty-kib-s R] [--json FILE]
#
# 2 namespace hosts (corosync + xenhad, sim driver).  One sim domain of
# M MiB (default 256; it really holds that much) dirtying R KiB/s (default
# 10240) is migrated N times (default 20) between h1 and h2 with
# `hactl migrate`.  Per migration: the downtime (the driver's: source pause
# to the target's first record), the total time `hactl` reports, the pre-copy
# rounds and the stream bytes over the memory size (from the source
# xenhad's log).  Then, on the same link between the two hosts, the stream
# throughput of plain TCP against the transport (bench/xport_bench, 512 MiB,
# median of 3), and the time `hactl node standby` takes to drain 10 domains
# of 64 MiB off h1.  Prints p50/p99 and writes them as JSON with --json.
# A benchmark, not a test: nothing passes or fails on the figures (issue 5's
# goals: downtime p50 < 100 ms, p99 < 300 ms; TLS >= 80 % of plain TCP).
# Needs root (network namespaces).
set -u
here=$(cd "$(dirname "$0")" && pwd)
runs=20 mb=256 dirty=10240 json=""
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--mb) mb=$2; shift 2 ;;
	--dirty-kib-s) dirty=$2; shift 2 ;;
	--json) json=$2; shift 2 ;;
	-h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--runs N] [--mb M] [--dirty-kib-s R] [--json FILE]" >&2; exit 2 ;;
	esac
done
case "$runs$mb$dirty" in *[!0-9]*) echo "migrate.sh: numbers expected" >&2; exit 2 ;; esac
export XH_PREFIX=${XH_PREFIX:-xhbm} XH_NET=${XH_NET:-198.18.14}
export XH_SIM_HOLD_MB=$mb XH_SIM_DIRTY_KIB_S=$dirty XH_SIM_MEMORY_MB=$((mb * 4 + 2048))
# shellcheck source=../tests/cluster/lib.sh
. "$here/../tests/cluster/lib.sh"
BENCH=$XENHA_BUILD/bench/xport_bench
[ -x "$BENCH" ] || { echo "migrate.sh: missing $BENCH (make first)" >&2; exit 1; }
xh_prereq || exit 1
xh_lock || exit 1
out=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	xh_down >/dev/null 2>&1
	rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pct() { # P < numbers: the P-th percentile (nearest rank)
	sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (!NR) { print "null"; exit }
		r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR; print v[r] }'
}

xh_up 2 >/dev/null || { echo "migrate.sh: cluster did not come up" >&2; exit 1; }
D=bm
xh_hactl 1 domain add "$D" --memory "$mb" --prefer h1 >/dev/null || exit 1
settled() { [ "$(xh_domf 1 "$D" state)" = running ] && [ "$(xh_sim_count "$D")" = 1 ]; }
xh_wait_until 60 "$D running" settled >/dev/null || { echo "migrate.sh: $D not running" >&2; exit 1; }
sleep 2   # let it dirty for a while

echo "migrate bench: $runs migrations of a $mb MiB sim domain dirtying $dirty KiB/s, h1 <-> h2 over TLS, $(nproc) CPUs"
: >"$out/down"; : >"$out/total"; : >"$out/ratio"; : >"$out/rounds"
fails=0
for i in $(seq 1 "$runs"); do
	from=$(xh_domf 1 "$D" host)
	to=h1; [ "$from" = h1 ] && to=h2
	line=$(xh_hactl 1 --timeout 300 migrate "$D" "$to" 2>&1 | tail -1)
	if ! [[ $line =~ migrated\ to\ $to\ in\ ([0-9.]+)\ s,\ downtime\ ([0-9]+)\ ms ]]; then
		echo "  run $i: FAILED: $line"
		fails=$((fails + 1))
		xh_wait_until 60 "$D settled" settled >/dev/null
		continue
	fi
	tot=${BASH_REMATCH[1]} down=${BASH_REMATCH[2]}
	id=$(xh_domains_json 1 | jq -r --arg n "$D" '.domains[] | select(.name == $n) | .migration.last.mig_id')
	log=$(grep "domain $D: migration mig_id=$id as source .*: done" "$XH_DIR/$from/log/xenhad.log" | tail -1)
	rounds=$(echo "$log" | sed -n 's/.*rounds=\([0-9]*\).*/\1/p')
	bytes=$(echo "$log" | sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
	ratio=$(awk -v b="${bytes:-0}" -v m="$mb" 'BEGIN { printf "%.2f", b / (m * 1048576) }')
	echo "$down" >>"$out/down"; echo "$tot" >>"$out/total"
	echo "$ratio" >>"$out/ratio"; echo "${rounds:-0}" >>"$out/rounds"
	printf '  run %2d: %s -> %s  downtime %4s ms  total %5s s  rounds %2s  bytes/mem %s\n' \
		"$i" "$from" "$to" "$down" "$tot" "${rounds:-?}" "$ratio"
	xh_wait_until 30 "$D settled" settled >/dev/null || echo "  run $i: not one copy afterwards"
done
oracle=$(xh_oracle 2>&1 | tail -1)
echo "  $oracle"
dp50=$(pct 50 <"$out/down"); dp99=$(pct 99 <"$out/down")
tp50=$(pct 50 <"$out/total"); tp99=$(pct 99 <"$out/total")
rp50=$(pct 50 <"$out/ratio"); rop50=$(pct 50 <"$out/rounds")
echo "  downtime: p50 $dp50 ms, p99 $dp99 ms (goal p50 < 100, p99 < 300)"
echo "  total:    p50 $tp50 s, p99 $tp99 s; rounds p50 $rop50; bytes sent / memory p50 $rp50"
echo "  failed migrations: $fails"

# stream throughput on the same link: plain TCP against the transport
xh_hactl 1 domain stop "$D" >/dev/null
KEY=$XH_DIR/authkey PORT=7800
one() { # MODE: prints MB/s
	local rpid o tries=0
	PORT=$((PORT + 1))
	ip netns exec "$(_xh_ns 1)" "$BENCH" recv --mode "$1" --listen "$XH_NET.11" --port $PORT \
		--key "$KEY" >"$out/recv" 2>&1 &
	rpid=$!
	PIDS="$PIDS $rpid"
	until ip netns exec "$(_xh_ns 1)" ss -Hltn "sport = :$PORT" | grep -q LISTEN; do
		tries=$((tries + 1)); [ $tries -le 50 ] || { cat "$out/recv" >&2; return 1; }
		sleep 0.1
	done
	o=$(ip netns exec "$(_xh_ns 2)" "$BENCH" send --mode "$1" --connect "$XH_NET.11" \
		--port $PORT --bytes $((512 * 1048576)) --key "$KEY") || return 1
	wait "$rpid"
	PIDS=${PIDS/ $rpid/}
	echo "$o" | sed -n 's/.*mb_per_s=\([0-9.]*\).*/\1/p'
}
: >"$out/plain"; : >"$out/tls"
for _ in 1 2 3; do one plain >>"$out/plain"; one xport >>"$out/tls"; done
plain=$(pct 50 <"$out/plain"); tls=$(pct 50 <"$out/tls")
tratio=$(awk -v p="$plain" -v x="$tls" 'BEGIN { if (p > 0) printf "%.3f", x / p; else print "null" }')
echo "  stream h2 -> h1, 512 MiB, median of 3: plain TCP $plain MB/s, TLS transport $tls MB/s, ratio $tratio (goal >= 0.80)"

# drain 10 domains of 64 MiB off h1
for k in $(seq 1 10); do xh_hactl 1 domain add "dr$k" --memory 64 --prefer h1 >/dev/null; done
ten() { [ "$(xh_doms_on 1 1 | wc -w)" = 10 ]; }
xh_wait_until 120 "10 domains on h1" ten >/dev/null || echo "  drain: not 10 domains on h1"
sleep 2
dline=$(xh_hactl 2 --timeout 600 node standby h1 2>&1 | tail -1)
drain=$(echo "$dline" | sed -n 's/.*moved in \([0-9.]*\) s$/\1/p')
echo "  drain of 10 x 64 MiB off h1 (max_concurrent 2): ${drain:-failed} s  ($dline)"
oracle2=$(xh_oracle 2>&1 | tail -1)
echo "  $oracle2"

if [ -n "$json" ]; then
	cat >"$json" <<EOF
{"bench":"migrate","runs":$runs,"failed":$fails,"mb":$mb,"dirty_kib_s":$dirty,"cpus":$(nproc),
 "downtime_ms":{"p50":$dp50,"p99":$dp99,"all":[$(paste -sd, "$out/down")]},
 "total_s":{"p50":$tp50,"p99":$tp99},"rounds_p50":$rop50,"bytes_over_memory_p50":$rp50,
 "stream_mb_per_s":{"plain":${plain:-null},"tls":${tls:-null},"ratio":$tratio},
 "drain_10_s":${drain:-null},"goal":{"downtime_p50_ms":100,"downtime_p99_ms":300,"tls_ratio":0.8}}
EOF
fi
