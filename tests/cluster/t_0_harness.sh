#!/bin/bash
# Case 0 (harness self-test, corosync only): the harness itself works.
# 3 hosts form a cluster; each host has its own /run (corosync.pid) and
# address; cut/heal, a 2|1 partition, a power-off and power-on, a clean
# corosync stop and start all give the memberships they should; a power-off
# waits while another process holds the host's power switch; a process
# started in a host is stopped by down; down leaves nothing behind.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
XH_NO_XENHAD=1
xh_case harness

# membership as host I's corosync sees it: N nodes, quorate yes|no
view() { # I N yes|no
	local out
	out=$(xh_exec "$1" corosync-quorumtool -s 2>/dev/null)
	echo "$out" | grep -Eq "^Nodes: +$2\$" && echo "$out" | grep -Eiq "^Quorate: +$3\$"
}

xh_up 3 || xh_fail "corosync cluster did not form"

# isolation: three corosyncs, three pid files, three addresses
for i in 1 2 3; do
	pid=$(cat "$XH_DIR/h$i/corosync.xhpid")
	_xh_ours "$pid" "$XH_DIR/corosync.conf" || xh_fail "h$i: recorded corosync pid $pid is not ours"
	[ "$(cat "$XH_DIR/h$i/run/corosync.pid" 2>/dev/null)" = "$pid" ] ||
		xh_fail "h$i: /run/corosync.pid is not private (want $pid)"
	xh_exec "$i" ip -4 -o addr show dev eth0 | grep -qF "$XH_NET.$((10 + i))/24" ||
		xh_fail "h$i: no address $XH_NET.$((10 + i))"
	[ "$(xh_exec "$i" sh -c 'mountpoint -q /var/lib/xenha && mountpoint -q /dev/shm && echo ok')" = ok ] ||
		xh_fail "h$i: bind mounts missing"
done
[ -z "$(ip -o link show | grep -E ' (p[0-9]+|br[0-9]+)[@:]')" ] || xh_fail "links created in the root namespace"

xh_log "cut h3"
xh_cut 3
xh_wait_until 15 "h1 sees 2 nodes, quorate" view 1 2 yes || xh_fail "h1 did not see h3 leave"
xh_log "h1 lost h3 after ${XH_WAITED}s"
xh_wait_until 15 "h3 alone, not quorate" view 3 1 no || xh_fail "h3 did not lose quorum"
xh_heal 3
xh_wait_until 20 "h3 back" _xh_corosync_all 3 || xh_fail "h3 did not rejoin after heal"
xh_log "healed after ${XH_WAITED}s"

xh_log "partition {1,2} | {3}"
xh_part "1 2" "3"
xh_wait_until 15 "h2 sees 2, quorate" view 2 2 yes || xh_fail "majority did not form"
xh_wait_until 15 "h3 non-quorate" view 3 1 no || xh_fail "h3 still quorate in the minority"
xh_unpart
xh_wait_until 20 "merged" _xh_corosync_all 3 || xh_fail "partition did not merge"
xh_log "merged after ${XH_WAITED}s"

xh_log "power off h2"
# a client process in h2: it must die with the host
cpid=$(xh_spawn 2 "$XH_DIR/h2/log/sleeper.out" sleep 300)
xh_wait_until 5 "sleeper in h2" sh -c "ip netns pids $(_xh_ns 2) | grep -qx $cpid" || xh_fail "spawned pid $cpid not in h2"
xh_poweroff 2 || xh_fail "poweroff h2 left processes"
_xh_alive "$cpid" && xh_fail "pid $cpid survived the power-off"
xh_wait_until 15 "h1 sees 2" view 1 2 yes || xh_fail "h1 did not see h2 die"
xh_log "h1 lost h2 after ${XH_WAITED}s"
xh_poweron 2 || xh_fail "poweron h2"
xh_wait_until 20 "h2 back" _xh_corosync_all 3 || xh_fail "h2 did not come back"

# h2's power switch: the test watchdog powers a host off from another
# process at any time; a power-on meanwhile must wait for it (interleaved,
# the power-off's kill rounds once killed part of what a power-on had just
# started and removed the pid files under the survivors).  Another
# process holds the switch for 5 s: the power-off here waits for it.
xh_log "h2's power switch held by another process for 5 s"
_xh_with_power 2 sleep 5 &
hpid=$!
xh_wait_until 5 "the other process holds h2's switch" test -s "$XH_DIR/h2/power.lock/pid" >/dev/null ||
	xh_fail "the holder did not take h2's switch"
t0=${EPOCHREALTIME/[.,]/}
xh_poweroff 2 || xh_fail "poweroff h2 after the holder"
waited=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
wait "$hpid" || xh_fail "the holder failed"
[ "$waited" -ge 1500 ] || xh_fail "the power-off did not wait for the switch (${waited} ms)"
[ ! -e "$XH_DIR/h2/power.lock" ] || xh_fail "the switch stays taken after the power-off"
xh_log "the power-off waited ${waited} ms for the switch"
xh_poweron 2 || xh_fail "poweron h2"
xh_wait_until 20 "h2 back" _xh_corosync_all 3 || xh_fail "h2 did not come back"

xh_log "clean stop of corosync on h1"
xh_stop_corosync 1 TERM || xh_fail "corosync ignored SIGTERM"
xh_wait_until 10 "h2 sees 2" view 2 2 yes || xh_fail "h2 did not see h1 leave"
xh_log "h2 saw h1 leave after ${XH_WAITED}s"
xh_start_corosync 1 || xh_fail "start corosync h1"
xh_wait_until 20 "h1 back" _xh_corosync_all 3 || xh_fail "h1 did not rejoin"

# down must leave nothing: remember what to look for, then tear down here
pids=""
for i in 1 2 3; do pids="$pids $(ip netns pids "$(_xh_ns "$i")" | tr '\n' ' ')"; done
spid=$(xh_spawn 3 "$XH_DIR/h3/log/sleeper.out" sleep 300)
xh_down
for pid in $pids $spid; do _xh_alive "$pid" && xh_fail "pid $pid survived down"; done
ip netns list | grep -q "^$XH_PREFIX-" && xh_fail "namespaces left after down"
[ -e "$XH_DIR" ] && xh_fail "$XH_DIR left after down"
grep -qF " $XH_DIR/" /proc/mounts && xh_fail "mounts left after down"
xh_down || xh_fail "second down failed (must be idempotent)"
xh_pass
