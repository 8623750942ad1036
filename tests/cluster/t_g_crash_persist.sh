#!/bin/bash
# Case g (kill -9 at any point): while the cluster applies a stream of
# commands (so h2 keeps saving its state), h2's xenhad is killed with
# SIGKILL at ten random moments and started again each time.  Every restart
# must load its saved state (never find it torn or unreadable) and rejoin
# synced; at the end all three hosts hold the same state, and the domains
# ran on, once.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case g_crash_persist

BENCH_CPG=$XENHA_BUILD/bench/bench_cpg
[ -x "$BENCH_CPG" ] || xh_fail "$BENCH_CPG is not built"
log2=$XH_DIR/h2/log/xenhad.log
KILLS=10

xh_up 3 || xh_fail "cluster did not come up"
for i in 1 2 3; do
	for k in 1 2; do
		xh_hactl 1 domain add "g$i$k" --memory 256 --prefer "h$i" >/dev/null || xh_fail "add g$i$k"
	done
done
xh_wait_until 30 "6 domains running" xh_all_running 1 6 || xh_fail "domains not running"
procs=$(xh_sim_snapshot)

# 500 more (stopped) definitions make the state file large enough that a
# save takes a while; then a stream of DOMAIN_SET commands from h1
xh_exec 1 "$BENCH_CPG" add 500 gx >/dev/null || xh_fail "bench_cpg add"
total_is() { [ "$(xh_hactl "$1" --json status | jq -r .domains.total)" = "$2" ]; }
xh_wait_until 30 "506 definitions on h2" total_is 2 506 || xh_fail "definitions did not arrive"
# 500 commands/s from h1 (h2 saves its state about ten times a second);
# the stream runs inside h1 and is stopped by its PID
flood=$(xh_spawn 1 "$XH_DIR/flood.out" env BENCH_BATCH=1 BENCH_RATE=500 "$BENCH_CPG" set 1000000 gx 500) ||
	xh_fail "bench_cpg set did not start"
sleep 1

loaded0=$(grep -c 'state loaded' "$log2")
for k in $(seq 1 "$KILLS"); do
	sleep "0.$((RANDOM % 9 + 1))"
	pid=$(xh_xenhad_pid 2) || xh_fail "no xenhad on h2 before kill $k"
	xh_kill_xenhad 2 KILL
	_xh_alive "$pid" && xh_fail "xenhad $pid survived SIGKILL"
	xh_start_xenhad 2 || xh_fail "cannot start xenhad on h2 after kill $k"
	xh_wait_up 3 60 || xh_fail "h2 did not rejoin synced after kill $k"
	xh_log "kill $k: h2 back and synced after ${XH_WAITED}s"
done
_xh_alive "$flood" || xh_fail "the command stream ended before the last kill: $(cat "$XH_DIR/flood.out")"
kill "$flood" 2>/dev/null
xh_wait_until 10 "the command stream stopped" bash -c "! kill -0 $flood 2>/dev/null" ||
	xh_fail "bench_cpg (pid $flood) did not stop"

loaded=$(( $(grep -c 'state loaded' "$log2") - loaded0 ))
bad=$(grep -c 'unreadable' "$log2")
xh_log "h2 restarts that loaded their saved state: $loaded of $KILLS; unreadable: $bad"
[ "$bad" = 0 ] || xh_fail "a saved state was unreadable after kill -9: $(grep unreadable "$log2" | head -2)"
[ "$loaded" = "$KILLS" ] || xh_fail "only $loaded of $KILLS restarts loaded a saved state"

# the stream is over: every host ends with the same state
same_seq() {
	local a b c
	a=$(xh_hactl 1 --json status | jq -r .cluster.seq)
	b=$(xh_hactl 2 --json status | jq -r .cluster.seq)
	c=$(xh_hactl 3 --json status | jq -r .cluster.seq)
	[ -n "$a" ] && [ "$a" = "$b" ] && [ "$b" = "$c" ]
}
xh_wait_until 30 "the same seq on all hosts" same_seq || xh_fail "hosts disagree on seq"
ref=$(xh_hactl 1 --json domains | jq -c '[.domains[] | [.name, .state, .host, .generation, .priority]]')
for i in 2 3; do
	d=$(xh_hactl "$i" --json domains | jq -c '[.domains[] | [.name, .state, .host, .generation, .priority]]')
	[ -n "$d" ] && [ "$d" = "$ref" ] || xh_fail "h$i's domains differ from h1's"
done
six_running() { # the 6 HA domains; the 500 gx-* definitions are stopped
	xh_domains_json 1 | xh_jqe '[.domains[] | select(.name | test("^g[0-9]+$"))
		| select(.state == "running")] | length == 6' >/dev/null
}
xh_wait_until 30 "the 6 domains running" six_running || xh_fail "domains not all running at the end"
now=$(xh_sim_snapshot)
[ "$now" = "$procs" ] || xh_fail "sim processes changed: $(diff <(echo "$procs") <(echo "$now") | grep '^[<>]' | tr '\n' ' ')"
xh_check_copies 1 || xh_fail "single-copy check at the end"
xh_pass
