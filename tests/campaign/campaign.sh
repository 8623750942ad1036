#!/bin/bash
# tests/campaign/campaign.sh - a randomized fault campaign with an auditor.
#
# A namespace cluster (tests/cluster/lib.sh: real corosync, xenhad and
# xenha-fenced on every host, a loop device as the heartbeat disk, the test
# watchdog, sim domains as real processes) is hit by a seeded random
# nemesis.  Each step applies one or two faults, holds them for a while,
# heals them, and then restores the cluster the way an operator (or
# systemd) would: hosts that were powered off (by us or by their watchdog)
# are powered on again, and a daemon that is gone from a host its watchdog
# did not reset is started again.  Then the auditor checks:
#
#   - the oracle: no two incarnations of a domain wrote to its image in
#     overlapping time (src/tools/xenha-oracle), over the whole run;
#   - within BOUND seconds of the heal: every host is a synced, quorate
#     member with its watchdog armed and petted, every HA domain that
#     should run runs exactly once (its process on the host the state
#     names, nowhere else), and every node's replicated state is the same
#     (domains, hosts and the whole history);
#   - the history: sequence numbers without gaps;
#   - no sanitizer report in any daemon's or domain's log.
#
# The fault schedule is a function of the seed alone (`--plan` prints it
# without running anything); the timing of what the cluster does is not.
# The last line is the summary:
#   campaign: seed=S faults=N steps=M violations=V anomalies=A seconds=T
# Exit status: 0 no violation, 1 violations, 2 usage or set-up error.
set -u

usage() {
	cat <<-EOF
	usage: campaign.sh [--faults N] [--seed S] [--hosts N] [--bound SECONDS]
	                   [--clusters K] [--json FILE] [--keep-going] [--plan]
	  --faults N     stop after N faults (default 100)
	  --seed S       seed of the nemesis (default: from the clock; printed)
	  --clusters K   run K independent clusters side by side (1..8, default 1),
	                 cluster k with seed S+k-1 and its share of the N faults;
	                 one summary over all (each cluster's lines are prefixed ck)
	  --hosts N      cluster size, 3..5 (default 3)
	  --bound S      seconds after a heal within which the cluster must
	                 have recovered (default 60)
	  --json FILE    also write the summary as JSON
	  --keep-going   count violations and go on (default: stop at the first)
	  --plan         print the fault schedule of the seed and exit
	environment: XENHA_BUILD (build tree), XH_PREFIX (xhc), XH_NET (198.18.9);
	  with --clusters K, cluster k is XH_PREFIX followed by k, on 198.19.(8*X+k-1)
	  where X is XH_NET's third number
	EOF
}

C_FAULTS=100
C_SEED=""
C_HOSTS=3
C_BOUND=60
C_JSON=""
C_KEEP=0
C_PLAN=0
C_CLUSTERS=1
while [ $# -gt 0 ]; do
	case $1 in
	--faults) C_FAULTS=${2:-}; shift 2 ;;
	--seed) C_SEED=${2:-}; shift 2 ;;
	--hosts) C_HOSTS=${2:-}; shift 2 ;;
	--bound) C_BOUND=${2:-}; shift 2 ;;
	--json) C_JSON=${2:-}; shift 2 ;;
	--clusters) C_CLUSTERS=${2:-}; shift 2 ;;
	--keep-going) C_KEEP=1; shift ;;
	--plan) C_PLAN=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "campaign: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
done
[ -n "$C_SEED" ] || C_SEED=$(( ${EPOCHREALTIME/[.,]/} % 1000000 ))
for v in "$C_FAULTS" "$C_SEED" "$C_HOSTS" "$C_BOUND" "$C_CLUSTERS"; do
	case $v in '' | *[!0-9]*) echo "campaign: not a number: '$v'" >&2; exit 2 ;; esac
done
[ "$C_HOSTS" -ge 3 ] && [ "$C_HOSTS" -le 5 ] || { echo "campaign: --hosts must be 3..5" >&2; exit 2; }
[ "$C_FAULTS" -ge 1 ] && [ "$C_FAULTS" -le 1000000 ] || { echo "campaign: --faults must be 1..1000000" >&2; exit 2; }
[ "$C_BOUND" -ge 10 ] && [ "$C_BOUND" -le 600 ] || { echo "campaign: --bound must be 10..600" >&2; exit 2; }
[ "$C_CLUSTERS" -ge 1 ] && [ "$C_CLUSTERS" -le 8 ] || { echo "campaign: --clusters must be 1..8" >&2; exit 2; }
[ "$C_CLUSTERS" -le "$C_FAULTS" ] || { echo "campaign: fewer faults than clusters" >&2; exit 2; }

# ------------------------------------------------- K clusters side by side
#
# The same script once per cluster (--clusters 1), each on its own
# namespaces, network, state directory and seed; this shell only starts
# them (PIDs recorded), prefixes their lines, stops them on a signal (their
# own traps tear their clusters down) and adds up their summaries.
if [ "$C_CLUSTERS" -gt 1 ]; then
	prefix=${XH_PREFIX:-xhc}
	net=${XH_NET:-198.18.9}
	oct=${net##*.}
	case $net in 198.18.*) ;; *) echo "campaign: --clusters needs XH_NET in 198.18.0.0/16" >&2; exit 2 ;; esac
	[ "$oct" -le 31 ] || { echo "campaign: --clusters needs XH_NET's third number <= 31" >&2; exit 2; }
	[ "${#prefix}" -le 7 ] || { echo "campaign: --clusters needs XH_PREFIX of 7 characters at most" >&2; exit 2; }
	tmp=$(mktemp -d /tmp/campaign.XXXXXX) || exit 2
	pids=()
	stop_children() {
		local p
		for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
		for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	}
	trap 'echo "campaign: stopped by a signal"; stop_children; rm -rf "$tmp"; exit 130' INT TERM HUP
	t0=${EPOCHREALTIME/[.,]/}
	echo "campaign: seed=$C_SEED faults=$C_FAULTS clusters=$C_CLUSTERS hosts=$C_HOSTS bound=${C_BOUND}s"
	for ((k = 1; k <= C_CLUSTERS; k++)); do
		n=$((C_FAULTS / C_CLUSTERS + (k <= C_FAULTS % C_CLUSTERS ? 1 : 0)))
		args=(--clusters 1 --faults "$n" --seed $((C_SEED + k - 1)) --hosts "$C_HOSTS"
		      --bound "$C_BOUND" --json "$tmp/c$k.json")
		[ "$C_KEEP" = 0 ] || args+=(--keep-going)
		[ "$C_PLAN" = 0 ] || args+=(--plan)
		echo "campaign: cluster c$k: XH_PREFIX=$prefix$k XH_NET=198.19.$((8 * oct + k - 1)) ${args[*]}"
		XH_PREFIX=$prefix$k XH_NET=198.19.$((8 * oct + k - 1)) XH_DIR= XH_LOCKFILE= \
			"$0" "${args[@]}" > >(sed -u "s/^/c$k /") 2>&1 &
		pids+=($!)
		# their set-ups (corosync, daemons) go one after the other
		[ "$C_PLAN" = 1 ] || sleep 5
	done
	rc=0
	for p in "${pids[@]}"; do
		wait "$p"
		r=$?
		[ "$r" -gt "$rc" ] && rc=$r
	done
	wait   # the prefixing seds
	[ "$C_PLAN" = 1 ] && { rm -rf "$tmp"; exit "$rc"; }
	secs=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000000 ))
	sum=$(cat "$tmp"/c*.json 2>/dev/null | jq -s -c --argjson k "$C_CLUSTERS" '{n: length,
		faults: (map(.faults) | add), steps: (map(.steps) | add),
		violations: (map(.violations) | add), anomalies: (map(.anomalies) | add)}')
	rm -rf "$tmp"
	if [ "$(jq -r .n <<< "$sum" 2>/dev/null)" != "$C_CLUSTERS" ]; then
		echo "campaign: not every cluster wrote its summary"
		[ "$rc" -ge 1 ] || rc=2
	fi
	f=$(jq -r '.faults // 0' <<< "$sum"); st=$(jq -r '.steps // 0' <<< "$sum")
	v=$(jq -r '.violations // 0' <<< "$sum"); a=$(jq -r '.anomalies // 0' <<< "$sum")
	if [ -n "$C_JSON" ]; then
		printf '{"seed":%d,"clusters":%d,"hosts":%d,"faults":%d,"steps":%d,"violations":%d,"anomalies":%d,"seconds":%d}\n' \
			"$C_SEED" "$C_CLUSTERS" "$C_HOSTS" "$f" "$st" "$v" "$a" "$secs" > "$C_JSON"
	fi
	echo "campaign: seed=$C_SEED clusters=$C_CLUSTERS faults=$f steps=$st violations=$v anomalies=$a seconds=$secs"
	exit "$rc"
fi

# ------------------------------------------------------------ the nemesis
#
# Every random choice goes through c_rand in THIS shell (never in a
# $(subshell), which would not advance the generator), so the schedule is
# the same for the same seed.

RANDOM=$C_SEED
c_rand() { C_R=$((RANDOM % $1)); }

# name weight: how often each fault is chosen
C_KINDS="crash-domain:10 shutdown-domain:3 kill-xenhad:8 kill-fenced:4 kill-corosync:4
freeze-xenhad:6 freeze-fenced:5 freeze-corosync:5 freeze-host:8 poweroff:10 isolate:8
partition:6 oneway:6 disk-hang:5 disk-eio:5 restart-cluster:2 migrate:8"
# how a migration is interrupted once its stream runs
C_MIG_HOW=(kill-source kill-target poweroff-target isolate-target none)
C_WTOTAL=0
for kw in $C_KINDS; do C_WTOTAL=$((C_WTOTAL + ${kw#*:})); done
# hold times (tenths of a second): short ones the cluster should ride out,
# long ones past lease + watchdog
C_HOLDS="2 5 10 20 30 50 80"

c_pick_kind() {
	local kw acc=0
	c_rand "$C_WTOTAL"
	for kw in $C_KINDS; do
		acc=$((acc + ${kw#*:}))
		if [ "$C_R" -lt "$acc" ]; then
			C_KIND=${kw%:*}
			return
		fi
	done
}

c_pick_hold() {
	local a
	read -r -a a <<< "$C_HOLDS"
	c_rand "${#a[@]}"
	C_HOLD=${a[$C_R]}
}

# One fault: sets C_F ("kind args..."), using the generator only.
c_pick_fault() {
	local h o g i
	c_pick_kind
	c_rand "$C_HOSTS"; h=$((C_R + 1))
	case $C_KIND in
	crash-domain | shutdown-domain)
		c_rand "${#C_DOMS[@]}"
		C_F="$C_KIND ${C_DOMS[$C_R]}" ;;
	oneway)
		c_rand $((C_HOSTS - 1)); o=$((C_R + 1)); [ "$o" -ge "$h" ] && o=$((o + 1))
		C_F="oneway $h $o" ;;
	partition)
		# a random proper subset that is a minority goes to its own bridge
		g=""
		for ((i = 1; i <= C_HOSTS; i++)); do
			c_rand 2
			[ "$C_R" = 1 ] && g="$g$i,"
		done
		g=${g%,}
		if [ -z "$g" ] || [ "$(echo "$g" | tr ',' '\n' | wc -l)" -gt $(((C_HOSTS - 1) / 2)) ]; then
			g=$h
		fi
		C_F="partition $g" ;;
	restart-cluster) C_F="restart-cluster" ;;
	migrate)
		c_rand "${#C_DOMS[@]}"; g=${C_DOMS[$C_R]}
		c_rand "${#C_MIG_HOW[@]}"
		C_F="migrate $g ${C_MIG_HOW[$C_R]}" ;;
	*) C_F="$C_KIND $h" ;;
	esac
}

C_DOMS=()
c_domain_names() {
	local i k
	C_DOMS=()
	for ((i = 1; i <= C_HOSTS; i++)); do
		for k in 1 2; do C_DOMS+=("f$i$k"); done
	done
	C_DOMS+=(g1 g2)
}
c_domain_names

# The faults of one step (1 or 2, never two that both take the whole
# cluster down), and how long they are held.
c_pick_step() {
	local n
	C_STEP=()
	c_rand 5
	n=1
	[ "$C_R" = 0 ] && n=2
	c_pick_fault
	C_STEP+=("$C_F")
	if [ "$n" = 2 ] && [ "$C_F" != restart-cluster ]; then
		c_pick_fault
		[ "$C_F" = restart-cluster ] || C_STEP+=("$C_F")
	fi
	c_pick_hold
}

if [ "$C_PLAN" = 1 ]; then
	f=0
	s=0
	while [ "$f" -lt "$C_FAULTS" ]; do
		c_pick_step
		s=$((s + 1))
		f=$((f + ${#C_STEP[@]}))
		printf 'step %d hold %d.%ds:' "$s" $((C_HOLD / 10)) $((C_HOLD % 10))
		printf ' [%s]' "${C_STEP[@]}"
		echo
	done
	echo "plan: seed=$C_SEED faults=$f steps=$s"
	exit 0
fi

# --------------------------------------------------------------- cluster

export XH_PREFIX=${XH_PREFIX:-xhc}
export XH_NET=${XH_NET:-198.18.9}
export XH_FENCED=1
# Real memory a sim domain holds (and a migration streams).  With lib.sh's
# 2 MiB a migrate fault's stream was over in about a second, before the
# fault could cut it (the 2,000-fault run: 145 of 149 "no stream seen");
# 16 MiB at the fault's 40 Mbit/s lasts some 3-4 s.
export XH_SIM_HOLD_MB=${XH_SIM_HOLD_MB:-16}
C_HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../cluster/lib.sh
. "$C_HERE/../cluster/lib.sh"

C_T0=${EPOCHREALTIME/[.,]/}
C_FAULTS_DONE=0
C_STEPS=0
C_VIOL=0
C_ANOM=0
C_LOG=${XH_LOGSAVE:-/var/tmp/xenha-cluster/failed/$XH_PREFIX/campaign}

c_log() { xh_log "$@"; }

c_violation() { # WHAT...
	C_VIOL=$((C_VIOL + 1))
	echo "VIOLATION step $C_STEPS: $*"
	if [ "$C_KEEP" != 1 ]; then
		xh_dump_logs 20
		rm -rf --one-file-system "$C_LOG"
		xh_save_logs "$C_LOG" && echo "logs saved in $C_LOG"
		c_summary
		XH_CASE_DONE=1
		exit 1
	fi
}

c_anomaly() { # WHAT...
	C_ANOM=$((C_ANOM + 1))
	echo "anomaly step $C_STEPS: $*"
}

c_summary() {
	local secs
	secs=$(( (${EPOCHREALTIME/[.,]/} - C_T0) / 1000000 ))
	if [ -n "$C_JSON" ]; then
		printf '{"seed":%d,"hosts":%d,"faults":%d,"steps":%d,"violations":%d,"anomalies":%d,"seconds":%d}\n' \
			"$C_SEED" "$C_HOSTS" "$C_FAULTS_DONE" "$C_STEPS" "$C_VIOL" "$C_ANOM" "$secs" > "$C_JSON"
	fi
	echo "campaign: seed=$C_SEED faults=$C_FAULTS_DONE steps=$C_STEPS violations=$C_VIOL anomalies=$C_ANOM seconds=$secs"
}

# One pass over /proc without forks: C_ON[I]=1 for each host with a live
# process, C_PROCS = "I PID NAME" for every sim domain process.
declare -A C_ON
c_scan() {
	local d pid i name
	C_ON=()
	C_PROCS=""
	for d in /proc/[0-9]*; do
		for ((i = 1; i <= C_HOSTS; i++)); do
			[ "$d/ns/net" -ef "/run/netns/$XH_PREFIX-h$i" ] && break
		done
		[ "$i" -le "$C_HOSTS" ] || continue
		pid=${d#/proc/}
		_xh_alive "$pid" || continue
		C_ON[$i]=1
		_xh_is_simdom "$pid" || continue
		name=$(_xh_simname "$pid") || name="?"
		C_PROCS+="$i $pid $name"$'\n'
	done
}
c_on() { c_scan; [ -n "${C_ON[$1]:-}" ]; }

# PID of daemon D (corosync|xenhad|fenced) on host I if it runs (no fork)
c_dpid() { # I D
	local pf=$XH_DIR/h$1/$2.xhpid pid m
	{ read -r pid < "$pf"; } 2>/dev/null || return 1
	m=$XH_DIR/h$1/xenha.conf
	[ "$2" = corosync ] && m=$XH_DIR/corosync.conf
	_xh_ours "$pid" "$m" || return 1
	C_PID=$pid
}
c_corosync_pid() { c_dpid "$1" corosync && echo "$C_PID"; }

c_fires() { grep -c 'expired' "$XH_DIR/h$1/log/testwd.log" 2>/dev/null || true; }

# ---------------------------------------------------------- apply / heal

# Faults that need undoing after the hold are remembered here.
C_UNDO=()

c_apply() { # KIND ARGS...
	local kind=$1 pid h
	shift
	case $kind in
	crash-domain | shutdown-domain)
		pid=$(xh_sim_procs | awk -v d="$1" '$3 == d { print $2; exit }')
		if [ -z "$pid" ]; then
			c_log "  $kind $1: not running now (nothing to do)"
			return 0
		fi
		if [ "$kind" = crash-domain ]; then kill -KILL "$pid"; else kill -USR1 "$pid"; fi ;;
	kill-xenhad) c_on "$1" && { xh_kill_xenhad "$1" KILL; C_UNDO+=("start-xenhad $1"); } ;;
	kill-fenced) c_on "$1" && xh_kill_fenced "$1" KILL ;;
	kill-corosync) c_on "$1" && xh_stop_corosync "$1" KILL ;;
	freeze-xenhad | freeze-fenced | freeze-corosync)
		case $kind in
		freeze-xenhad) pid=$(xh_xenhad_pid "$1") ;;
		freeze-fenced) pid=$(xh_fenced_pid "$1") ;;
		*) pid=$(c_corosync_pid "$1") ;;
		esac
		if [ -n "$pid" ]; then
			kill -STOP "$pid" && C_UNDO+=("cont $pid")
		fi ;;
	freeze-host) xh_freeze "$1"; C_UNDO+=("thaw $1") ;;
	poweroff) c_on "$1" && xh_poweroff "$1" ;;
	isolate) xh_cut "$1"; C_UNDO+=("heal $1") ;;
	partition) xh_part "$(echo "$1" | tr ',' ' ')" \
		"$(for ((h = 1; h <= C_HOSTS; h++)); do case ",$1," in *",$h,"*) ;; *) printf '%s ' "$h" ;; esac; done)"
		C_UNDO+=("unpart") ;;
	oneway)
		# host $1 drops everything it would send to host $2
		c_on "$1" && ip netns exec "$(_xh_ns "$1")" nft -f - <<-EOF && C_UNDO+=("nft $1")
		table inet xhcampaign {
			chain out { type filter hook output priority 0; ip daddr $XH_NET.$((10 + $2)) drop; }
		}
		EOF
		;;
	disk-hang) echo hang > "$XH_DIR/h$1/diskfault"; C_UNDO+=("disk $1") ;;
	disk-eio) echo eio > "$XH_DIR/h$1/diskfault"; C_UNDO+=("disk $1") ;;
	restart-cluster)
		for ((h = 1; h <= C_HOSTS; h++)); do c_on "$h" && xh_poweroff "$h"; done ;;
	migrate) c_migrate "$@" ;;
	*) echo "campaign: unknown fault $kind" >&2; return 1 ;;
	esac
	return 0
}

# migrate D HOW: live-migrate D off its host to the next host that is on,
# over a link shaped to 40 Mbit/s so that the stream lasts, and once it
# streams (at most 5 s) interrupt it: kill -9 of the source's or the
# target's xenhad, power the target off, cut the target off, or nothing.
c_migrate() { # D HOW
	local d=$1 how=$2 src="" dst="" k
	c_scan
	for ((k = 1; k <= C_HOSTS; k++)); do
		[ -n "${C_ON[$k]:-}" ] && c_dpid "$k" xenhad || continue
		src=$(xh_domf "$k" "$d" host 2>/dev/null)
		break
	done
	src=${src#h}
	case $src in '' | *[!0-9]*) c_log "  migrate $d: not running now (nothing to do)"; return 0 ;; esac
	for ((k = 1; k < C_HOSTS; k++)); do
		dst=$(( (src + k - 1) % C_HOSTS + 1 ))
		[ -n "${C_ON[$dst]:-}" ] && break
	done
	xh_shape "$dst" 40mbit && C_UNDO+=("shape $dst")
	if ! xh_hactl "$src" migrate "$d" "h$dst" --no-wait >/dev/null 2>&1; then
		c_log "  migrate $d h$src -> h$dst: refused (nothing to interrupt)"
		return 0
	fi
	xh_wait_until 5 "$d streaming" xh_mig_streaming "$src" "$d" 1048576 >/dev/null 2>&1 ||
		c_log "  migrate $d h$src -> h$dst: no stream seen within 5 s"
	c_log "  migrate $d h$src -> h$dst, interrupted by: $how"
	C_MIG_TOUCHED="$C_MIG_TOUCHED$src $dst "
	case $how in
	kill-source) xh_kill_xenhad "$src" KILL; C_UNDO+=("start-xenhad $src") ;;
	kill-target) xh_kill_xenhad "$dst" KILL; C_UNDO+=("start-xenhad $dst") ;;
	poweroff-target) xh_poweroff "$dst" ;;
	isolate-target) xh_cut "$dst"; C_UNDO+=("heal $dst") ;;
	esac
	return 0
}

# c_nft_clear I: host I's campaign nftables table deleted, checked, bounded
c_nft_clear() { # I
	local k
	for ((k = 0; k < 5; k++)); do
		ip netns exec "$(_xh_ns "$1")" nft delete table inet xhcampaign 2>/dev/null
		ip netns exec "$(_xh_ns "$1")" nft list table inet xhcampaign >/dev/null 2>&1 || return 0
		sleep 0.2
	done
	return 1
}

c_heal() {
	local i u h
	for ((i = ${#C_UNDO[@]} - 1; i >= 0; i--)); do
		u=${C_UNDO[$i]}
		case $u in
		shape*) xh_shape "${u#shape }" off ;;
		cont*) kill -CONT "${u#cont }" 2>/dev/null ;;
		thaw*) xh_thaw "${u#thaw }" ;;
		heal*) xh_heal "${u#heal }" ;;
		unpart) xh_unpart ;;
		nft*)
			# under the host's power switch: a test watchdog's power-off
			# of that host kills every process in its namespace, this nft
			# too (CI, 2026-12-06: the rule stayed and the cluster never
			# recovered); without the switch (busy 30 s) it is tried anyway
			h=${u#nft }
			_xh_with_power "$h" c_nft_clear "$h" || c_nft_clear "$h" ||
				c_log "  h$h: its nftables table xhcampaign is still there after the heal" ;;
		disk*) : > "$XH_DIR/h${u#disk }/diskfault" ;;
		start-xenhad*)
			# systemd would restart it; not on a host its watchdog
			# reset (or is resetting: the harness's power-off is a
			# loop of kills a new process could slip through) - the
			# power-on starts it there
			h=${u#start-xenhad }
			if [ "$(c_fires "$h")" = "${fires0[$h]}" ] && c_dpid "$h" corosync &&
				c_dpid "$h" fenced && ! c_dpid "$h" xenhad; then
				xh_start_xenhad "$h"
			fi ;;
		esac
	done
	C_UNDO=()
}

# -------------------------------------------------------------- restore

# What an operator or systemd does after the heal: power on hosts that are
# off; a daemon missing on a host that stays on (its watchdog did not reset
# it within watchdog + lease + 4 s) is started again; a domain whose
# restart budget ran out is started again (`hactl domain start`).
declare -A C_MISSING_SINCE
c_restore_step() {
	local i now miss
	now=${EPOCHREALTIME/[.,]/}
	c_scan
	for ((i = 1; i <= C_HOSTS; i++)); do
		if [ -z "${C_ON[$i]:-}" ]; then
			c_log "  restore: power on h$i"
			xh_poweron "$i" >/dev/null 2>&1 || c_log "  restore: power on h$i failed"
			C_MISSING_SINCE[$i]=""
			continue
		fi
		miss=""
		c_dpid "$i" corosync || miss="$miss corosync"
		c_dpid "$i" xenhad || miss="$miss xenhad"
		c_dpid "$i" fenced || miss="$miss fenced"
		if [ -z "$miss" ]; then
			C_MISSING_SINCE[$i]=""
			continue
		fi
		if [ -z "${C_MISSING_SINCE[$i]:-}" ]; then
			C_MISSING_SINCE[$i]=$now
			continue
		fi
		[ $((now - C_MISSING_SINCE[$i])) -gt $(( (XH_WD_S * 1000 + XH_LEASE_MS + 4000) * 1000 )) ] || continue
		c_log "  restore: h$i still on without$miss: starting it again"
		case $miss in *corosync*) xh_start_corosync "$i" >/dev/null 2>&1 ;; esac
		case $miss in *xenhad*) xh_start_xenhad "$i" >/dev/null 2>&1 ;; esac
		case $miss in *fenced*) xh_start_fenced "$i" >/dev/null 2>&1 ;; esac
		C_MISSING_SINCE[$i]=""
	done
}

# One visit to host I, inside its xenhad's namespaces (nsenter is much
# cheaper than a new `ip netns exec` with its bind mounts): the status,
# fencing view, domains, hosts and history, then one jq that checks the
# host's view and prints the canonical replicated state.  Sets C_HVIEW[I]
# ("ok" or what is wrong), C_DIGEST[I] and, for host 1, C_DOMS1 (the
# domain table as "name state target host" lines).
declare -A C_HVIEW C_DIGEST
c_snap() { # I
	local out
	c_dpid "$1" xenhad || { C_HVIEW[$1]="no xenhad"; return 1; }
	# shellcheck disable=SC2016 # expanded by the inner shell
	out=$(nsenter -t "$C_PID" -n -m /bin/sh -c '
		for c in status "fence status" domains nodes history; do
			timeout -k 1 10 "$0" --json $c 2>/dev/null || echo null
		done' "$XH_HACTL" 2>/dev/null | jq -rs --argjson n "$C_HOSTS" '
		if length != 5 or any(.[]; . == null) then "view: no answer"
		else . as [$st, $fs, $dom, $nodes, $hist]
		| (if ($st.cluster.members == $n and $st.cluster.quorate and $st.local.quorate
		       and $st.local.synced) | not then "view: xenhad not synced/quorate with \($n) members"
		   elif ($fs.armed and $fs.petting) | not then "view: watchdog not armed and petted"
		   else "view: ok" end),
		  ($dom.domains[] | "dom: \(.name) \(.state) \(.target) \(.host // "-") \(
		      if .state == "failed" and .restarts >= .max_restarts
		         and .relocations >= .max_relocations then "gaveup" else "-" end)"),
		  ($dom.domains[] | "state: \([.name, .state, .target, .host, .generation])"),
		  ($nodes.nodes[] | "state: \([.name, .member, .fence, .standby, .maintenance])"),
		  ($hist.events[] | "state: \([.seq, .time_ms, .type, .domain, .text])"),
		  "gaps: \([$hist.events[].seq] as $s | [range(1; $s | length)
		           | select($s[.] != $s[. - 1] + 1)] | length)"
		end' 2>/dev/null)
	C_HVIEW[$1]=$(sed -n 's/^view: //p' <<< "$out")
	C_DIGEST[$1]=$(grep '^state: ' <<< "$out" | md5sum)
	if [ "$1" = 1 ]; then
		C_DOMS1=$(sed -n 's/^dom: //p' <<< "$out")
		C_GAPS1=$(sed -n 's/^gaps: //p' <<< "$out")
	fi
	[ "${C_HVIEW[$1]}" = ok ]
}

# Single copy, against the processes (C_PROCS of the last scan): every
# domain has at most one live process; a RUNNING domain's process is on the
# host the state names; no process of an unknown domain.
c_copies() {
	awk -v procs="$C_PROCS" '
		BEGIN {
			n = split(procs, l, "\n")
			for (i = 1; i <= n; i++) {
				if (split(l[i], f, " ") != 3) continue
				cnt[f[3]]++; where[f[3]] = where[f[3]] "h" f[1] " "
			}
		}
		{ known[$1] = 1
		  if (cnt[$1] > 1) { print "domain " $1 " has " cnt[$1] " processes: " where[$1]; bad = 1 }
		  if ($2 == "running" && where[$1] != $4 " ") {
			print "domain " $1 " runs on " $4 " by the state, processes on: " where[$1]; bad = 1 } }
		END { for (d in cnt) if (!(d in known)) { print "process of unknown domain " d; bad = 1 }
		      exit bad }' <<< "$C_DOMS1"
}

C_WHY=""
c_converged() {
	local i d bad
	c_scan
	for ((i = 1; i <= C_HOSTS; i++)); do
		[ -n "${C_ON[$i]:-}" ] || { C_WHY="h$i is off"; return 1; }
		c_dpid "$i" corosync && c_dpid "$i" xenhad && c_dpid "$i" fenced ||
			{ C_WHY="h$i lacks a daemon"; return 1; }
	done
	for ((i = 1; i <= C_HOSTS; i++)); do
		c_snap "$i" || { C_WHY="h$i: ${C_HVIEW[$i]:-no answer}"; return 1; }
	done
	# restart budget ran out (the scheduler leaves it failed, or the
	# policy set its target to stopped): the operator starts it again
	# (logged, not a violation)
	for d in $(awk '$3 == "stopped" || $5 == "gaveup" { print $1 }' <<< "$C_DOMS1"); do
		c_log "  restore: $d ran out of restarts and relocations: hactl domain start $d"
		xh_hactl 1 domain start "$d" >/dev/null 2>&1
		C_WHY="$d restarted by the operator"
		return 1
	done
	bad=$(awk '$2 != "running" { printf "%s:%s ", $1, $2 }' <<< "$C_DOMS1")
	[ -z "$bad" ] || { C_WHY="not running: $bad"; return 1; }
	c_scan
	C_COPIES=$(c_copies) || { C_WHY="single copy: $C_COPIES"; return 1; }
	for ((i = 2; i <= C_HOSTS; i++)); do
		[ "${C_DIGEST[$i]}" = "${C_DIGEST[1]}" ] ||
			{ C_WHY="h$i's replicated state differs from h1's"; return 1; }
	done
	return 0
}

c_audit() {
	local t0 now out rc ct0
	t0=${EPOCHREALTIME/[.,]/}
	C_MISSING_SINCE=()
	C_LASTWHY=""
	while :; do
		c_restore_step
		ct0=${EPOCHREALTIME/[.,]/}
		c_converged && break
		[ -z "${C_VERBOSE:-}" ] || c_log "  check took $(( (${EPOCHREALTIME/[.,]/} - ct0) / 1000 )) ms: $C_WHY"
		[ "$C_WHY" = "${C_LASTWHY:-}" ] || { [ -z "${C_VERBOSE:-}" ] || c_log "  waiting: $C_WHY"; C_LASTWHY=$C_WHY; }
		now=${EPOCHREALTIME/[.,]/}
		if [ $((now - t0)) -gt $((C_BOUND * 1000000)) ]; then
			c_violation "not recovered within ${C_BOUND}s of the heal: $C_WHY"
			xh_check_copies 1
			return 1
		fi
		sleep 0.5
	done
	C_RECOVER_S=$(_xh_fmt_us $((${EPOCHREALTIME/[.,]/} - t0)))
	out=$(xh_oracle 2>&1)
	rc=$?
	[ "$rc" = 0 ] || { c_violation "oracle: $out"; return 1; }
	C_ORACLE=$out
	[ "$C_GAPS1" = 0 ] || c_violation "history has $C_GAPS1 gaps in its sequence numbers"
	if grep -lE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' \
		"$XH_DIR"/h*/log/*.stderr "$XH_DIR"/h*/run/xenha/sim/*.log >/dev/null 2>&1; then
		c_violation "sanitizer report in a log"
	fi
	return 0
}

# -------------------------------------------------------------------- run

xh_case campaign
# stopped from outside: still say how far it got (the EXIT trap tears down)
trap 'echo "campaign: stopped by a signal"; c_summary; XH_CASE_DONE=1; exit 130' INT TERM HUP
c_log "campaign: seed=$C_SEED faults=$C_FAULTS hosts=$C_HOSTS bound=${C_BOUND}s build=$XENHA_BUILD"
if [ -x "$XH_FENCED_BIN" ] && strings "$XH_FENCED_BIN" | grep -q 'UNSAFE BUILD'; then
	c_log "NOTE: $XH_FENCED_BIN is the deliberately broken build (--enable-unsafe-skip-fence-wait)"
fi
xh_fence_up "$C_HOSTS" >/dev/null || xh_fail "cluster with fencing did not come up"
xh_hactl 1 domain add g1 --memory 128 >/dev/null || xh_fail "add g1"
xh_hactl 1 domain add g2 --memory 128 --restart on-crash >/dev/null || xh_fail "add g2"
xh_wait_until 30 "all domains running" xh_all_running 1 "${#C_DOMS[@]}" >/dev/null ||
	xh_fail "the domains did not start"
c_log "cluster up: ${#C_DOMS[@]} domains on $C_HOSTS hosts"

while [ "$C_FAULTS_DONE" -lt "$C_FAULTS" ]; do
	c_pick_step
	C_STEPS=$((C_STEPS + 1))
	declare -A fires0=()
	for ((i = 1; i <= C_HOSTS; i++)); do fires0[$i]=$(c_fires "$i"); done
	c_log "step $C_STEPS: $(printf '[%s] ' "${C_STEP[@]}")hold $((C_HOLD / 10)).$((C_HOLD % 10))s"
	C_MIG_TOUCHED=""   # hosts a migrate fault used (c_migrate)
	for f in "${C_STEP[@]}"; do
		# shellcheck disable=SC2086 # the fault's words are its arguments
		c_apply $f || xh_fail "cannot apply $f"
		C_FAULTS_DONE=$((C_FAULTS_DONE + 1))
	done
	sleep "$((C_HOLD / 10)).$((C_HOLD % 10))"
	c_heal
	c_audit
	fired=""
	for ((i = 1; i <= C_HOSTS; i++)); do
		[ "$(c_fires "$i")" = "${fires0[$i]}" ] || fired="${fired}h$i "
	done
	c_log "  recovered in ${C_RECOVER_S}s${fired:+; watchdog fired on: $fired}; ${C_ORACLE#oracle: }"
	# a watchdog that fired on a host no fault of this step touched, while
	# the untouched hosts still made a majority (otherwise losing quorum
	# and self-fencing is what they must do)
	touched=" "
	for f in "${C_STEP[@]}"; do
		set -- $f
		case $1 in
		partition* | oneway* | restart-cluster) touched=all ;;
		crash-domain | shutdown-domain) ;;
		migrate) [ "$touched" = all ] || touched="$touched$C_MIG_TOUCHED" ;;
		*) [ "$touched" = all ] || touched="$touched$2 " ;;
		esac
	done
	nt=$(wc -w <<< "$touched")
	if [ "$touched" != all ] && [ $((2 * (C_HOSTS - nt))) -gt "$C_HOSTS" ]; then
		for h in $fired; do
			case $touched in *" ${h#h} "*) ;; *) c_anomaly "$h was reset by its watchdog though no fault touched it" ;; esac
		done
	fi
done

c_summary
XH_CASE_DONE=1 # read by lib.sh's exit trap
[ "$C_VIOL" = 0 ] || exit 1
exit 0
