#!/bin/bash
# bench/xport.sh - throughput of one migration stream: plain TCP against
# xport (TLS 1.3 PSK + relay thread + plain socketpair fd), 1 GiB each,
# between two network namespaces joined by a veth pair
# (198.18.12.1/24 - 198.18.12.2/24).  Prints MB/s (10^6 bytes/s) for each
# and the ratio xport/plain; goal: ratio >= 0.80.  Not a test: nothing
# passes or fails on the figures.
#
#   XENHA_BUILD=BUILDDIR bench/xport.sh [--bytes N] [--runs R] [--json FILE]
#
# Needs root (network namespaces).  Every process started is recorded by
# PID and stopped by PID; the namespaces and the temporary directory are
# removed on exit.  With --runs R each mode runs R times, alternating, and
# the median is reported.
set -euo pipefail

BUILD=${XENHA_BUILD:-$(pwd)}
BENCH=$BUILD/bench/xport_bench
BYTES=$((1024 * 1024 * 1024))
RUNS=3
JSON=""
while [ $# -gt 0 ]; do
	case $1 in
	--bytes) BYTES=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--json) JSON=$2; shift 2 ;;
	*) echo "usage: $0 [--bytes N] [--runs R] [--json FILE]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "xport.sh: needs root (network namespaces)" >&2; exit 1; }
[ -x "$BENCH" ] || { echo "xport.sh: missing $BENCH (make first; XENHA_BUILD=build dir)" >&2; exit 1; }

NS1=xhxp1-$$
NS2=xhxp2-$$
T=$(mktemp -d /tmp/xport-bench.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	ip netns del "$NS1" 2>/dev/null || true
	ip netns del "$NS2" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

ip netns add "$NS1"
ip netns add "$NS2"
ip link add xhxpa-$$ type veth peer name xhxpb-$$
ip link set xhxpa-$$ netns "$NS1"
ip link set xhxpb-$$ netns "$NS2"
ip -n "$NS1" addr add 198.18.12.1/24 dev xhxpa-$$
ip -n "$NS2" addr add 198.18.12.2/24 dev xhxpb-$$
ip -n "$NS1" link set lo up
ip -n "$NS2" link set lo up
ip -n "$NS1" link set xhxpa-$$ up
ip -n "$NS2" link set xhxpb-$$ up

KEY=$T/authkey
if [ -x "$BUILD/src/hactl/hactl" ]; then
	"$BUILD/src/hactl/hactl" keygen -f "$KEY" >/dev/null
else
	head -c 64 /dev/urandom >"$KEY"
	chmod 0400 "$KEY"
fi

PORT=7790
one_run() { # $1 = plain|xport; prints MB/s
	local mode=$1 rpid out tries=0
	PORT=$((PORT + 1))
	ip netns exec "$NS1" "$BENCH" recv --mode "$mode" --listen 198.18.12.1 \
		--port $PORT --key "$KEY" >"$T/recv.out" 2>&1 &
	rpid=$!
	PIDS="$PIDS $rpid"
	# wait (at most 5 s) until it listens
	until ip netns exec "$NS1" ss -Hltn "sport = :$PORT" | grep -q LISTEN; do
		tries=$((tries + 1))
		[ $tries -le 50 ] || { echo "xport.sh: receiver did not start" >&2; cat "$T/recv.out" >&2; exit 1; }
		sleep 0.1
	done
	out=$(ip netns exec "$NS2" "$BENCH" send --mode "$mode" --connect 198.18.12.1 \
		--port $PORT --bytes "$BYTES" --key "$KEY") || {
		echo "xport.sh: $mode run failed" >&2; cat "$T/recv.out" >&2; exit 1; }
	wait "$rpid" || { echo "xport.sh: receiver failed" >&2; cat "$T/recv.out" >&2; exit 1; }
	PIDS=${PIDS/ $rpid/}
	echo "$out" >&2
	echo "$out" | sed -n 's/.*mb_per_s=\([0-9.]*\).*/\1/p'
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: >"$T/plain"
: >"$T/xport"
for i in $(seq 1 "$RUNS"); do
	one_run plain >>"$T/plain"
	one_run xport >>"$T/xport"
done
P=$(median <"$T/plain")
X=$(median <"$T/xport")
R=$(awk -v p="$P" -v x="$X" 'BEGIN { printf "%.3f", x / p }')
echo "xport bench: $BYTES bytes, median of $RUNS runs, veth between two namespaces, $(nproc) CPUs"
echo "  plain TCP: $P MB/s"
echo "  xport:     $X MB/s (TLS 1.3 PSK, GnuTLS $(pkg-config --modversion gnutls 2>/dev/null || echo ?))"
echo "  ratio:     $R (goal >= 0.80)"
if [ -n "$JSON" ]; then
	cat >"$JSON" <<EOF
{"bench":"xport","bytes":$BYTES,"runs":$RUNS,"cpus":$(nproc),"plain_mb_per_s":$P,"xport_mb_per_s":$X,"ratio":$R,"goal_ratio":0.8,
 "plain_runs":[$(paste -sd, "$T/plain")],"xport_runs":[$(paste -sd, "$T/xport")]}
EOF
fi
