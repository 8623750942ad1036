# shellcheck shell=bash
# tests/cluster/lib.sh - the xenha namespace cluster harness (bash library).
#
# Sourced by the cluster tests (tests/cluster/t_*.sh) and by the
# tests/cluster/xcluster command.  It runs N "hosts" on this machine, each
# a network namespace with its own corosync, xenhad and sim domains, and
# tears all of it down again.  See docs/testing.md.
#
# How a host is isolated (host I, namespace $XH_PREFIX-hI):
#   network   eth0 = $XH_NET.(10+I)/24, the veth peer pI sits on bridge br0
#             in the switch namespace $XH_PREFIX-sw; nothing is created in
#             the root network namespace.  Abstract unix sockets (libqb IPC
#             of corosync and xenhad) are per network namespace.
#   mounts    every command for host I runs under `ip netns exec`, which
#             gives it a private mount namespace; inside it we bind
#               $XH_DIR/hI/run      over /run            (corosync.pid, sim pid files)
#               $XH_DIR/shm/hI      over /dev/shm        (libqb rings; a tmpfs)
#               $XH_DIR/hI/corosync over /var/lib/corosync
#               $XH_DIR/hI/log      over /var/log/corosync and /var/log/xenha
#               $XH_DIR/hI/xenha    over /var/lib/xenha  (persisted state)
#             The binds never leak into the root namespace and vanish with
#             the last process that uses them.  Processes a host's xenhad
#             starts (sim domains) inherit its namespaces.
#   shared    $XH_DIR/images is the "SAN": every host's sim domains write
#             their image files there, and the oracle reads them.
#
# Every process we start is recorded by PID and stopped by that PID after
# checking /proc/PID/cmdline; `xh_down` then kills whatever is still in one
# of OUR namespaces, deletes them, unmounts and removes $XH_DIR.  Nothing is
# ever killed by name.  Every wait loop is bounded in count and in time.
#
# Environment (all optional):
#   XH_PREFIX   namespace/cluster prefix (default xht; the demo uses xhdemo)
#   XH_DIR      state directory (default /var/tmp/xenha-cluster/$XH_PREFIX)
#   XH_NET      first three octets (default 198.18.1; 198.18.2 for xhdemo)
#   XENHA_BUILD build tree (default: $PWD if it holds src/hactl/hactl, else /work/main)
#   XH_TOKEN    corosync token ms (1000; token_coefficient is always 0)
#   XH_NO_XENHAD=1  corosync only (harness self-test, corosync experiments)
#   XH_KEEP=1   xh_down keeps $XH_DIR (logs, images) until the next xh_up
#   XH_LOGSAVE  where a failing case copies its logs (default
#               /var/tmp/xenha-cluster/failed/$XH_PREFIX/CASE)
#   XH_SIM_MEMORY_MB (4096) XH_MEM_RESERVED_MB (512) XH_DOM_OVERHEAD_MB (8)
#   XH_FENCED=1 also run xenha-fenced on every host: a loop device as the
#               heartbeat disk ($XH_DIR/hbdisk.img, made with `hactl disk
#               init`) and a test watchdog per host (xenha-testwd, in the
#               root namespace, powering the host off when it expires)
#   XH_WD_S (2) XH_MSGWAIT_S (4) XH_TICK_MS (250) XH_LEASE_MS (1500)
#   XH_MARGIN_MS (500): the fencing timings of a XH_FENCED=1 cluster
#   XH_VALGRIND="I ..." run xenhad and xenha-fenced of these hosts under
#               valgrind (memcheck, leak check); logs in hI/log/valgrind-*.log
#   XH_FENCE_AGENT=1 (with XH_FENCED=1) also configure the test fence agent
#               tests/cluster/fence_xhsim for every host (fence level 1)
#
# Prerequisites (Debian packages): iproute2 corosync jq util-linux
# (setpriv, mountpoint, setsid) coreutils (timeout); run as root.

export LC_ALL=C

XH_PREFIX=${XH_PREFIX:-xht}
XH_DIR=${XH_DIR:-/var/tmp/xenha-cluster/$XH_PREFIX}
if [ -z "${XH_NET:-}" ]; then
	case $XH_PREFIX in
	xhdemo) XH_NET=198.18.2 ;;
	*) XH_NET=198.18.1 ;;
	esac
fi
XH_TOKEN=${XH_TOKEN:-1000}
XH_NO_XENHAD=${XH_NO_XENHAD:-0}
XH_KEEP=${XH_KEEP:-0}
XH_SIM_MEMORY_MB=${XH_SIM_MEMORY_MB:-4096}
XH_MEM_RESERVED_MB=${XH_MEM_RESERVED_MB:-512}
XH_DOM_OVERHEAD_MB=${XH_DOM_OVERHEAD_MB:-8}
XH_HACTL_TIMEOUT=${XH_HACTL_TIMEOUT:-30}
XH_SIM_DIRTY_KIB_S=${XH_SIM_DIRTY_KIB_S:-256}
XH_SIM_HOLD_MB=${XH_SIM_HOLD_MB:-2}
XH_MIG_MAX_CONCURRENT=${XH_MIG_MAX_CONCURRENT:-2}
if [ -z "${XENHA_BUILD:-}" ]; then
	if [ -x "$PWD/src/hactl/hactl" ] || [ -x "$PWD/src/xenhad/xenhad" ]; then
		XENHA_BUILD=$PWD
	else
		XENHA_BUILD=/work/main
	fi
fi
XH_FENCED=${XH_FENCED:-0}
XH_WD_S=${XH_WD_S:-2}
XH_MSGWAIT_S=${XH_MSGWAIT_S:-4}
XH_TICK_MS=${XH_TICK_MS:-250}
XH_LEASE_MS=${XH_LEASE_MS:-1500}
XH_MARGIN_MS=${XH_MARGIN_MS:-500}
XH_XENHAD=$XENHA_BUILD/src/xenhad/xenhad
XH_FENCED_BIN=${XH_FENCED_BIN:-$XENHA_BUILD/src/fenced/xenha-fenced}
XH_TESTWD=$XENHA_BUILD/src/testwd/xenha-testwd
XH_HACTL=$XENHA_BUILD/src/hactl/hactl
XH_SIMDOM=$XENHA_BUILD/src/sim/xenha-simdom
XH_ORACLE=$XENHA_BUILD/src/tools/xenha-oracle
XH_SW=$XH_PREFIX-sw
XH_LIB_DIR=${XH_LIB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

# ---------------------------------------------------------------- basics

xh_log() { # MSG... - progress line with the time since the case began
	local now=${EPOCHREALTIME/[.,]/}
	printf '[%6.1fs] %s\n' "$(( (now - ${XH_T0_US:-$now}) / 100000 ))e-1" "$*"
}

xh_err() { echo "xcluster: $*" >&2; }

_xh_ns() { echo "$XH_PREFIX-h$1"; }

_xh_nhosts() { cat "$XH_DIR/nhosts" 2>/dev/null || echo 0; }

_xh_hosts() { seq 1 "$(_xh_nhosts)"; }

_xh_checkdir() {
	case $XH_DIR in
	/*/*) ;;
	*) xh_err "refusing XH_DIR='$XH_DIR' (must be an absolute path at least 2 levels deep)"; return 1 ;;
	esac
	case $XH_DIR in
	*[[:space:]]* | */../* | */..) xh_err "refusing XH_DIR='$XH_DIR'"; return 1 ;;
	esac
	case $XH_PREFIX in
	"" | *[!a-z0-9]*) xh_err "XH_PREFIX must be lower-case letters and digits"; return 1 ;;
	esac
	[ "${#XH_PREFIX}" -le 8 ] || { xh_err "XH_PREFIX too long (max 8)"; return 1; }
}

_xh_host_ok() { # I
	case $1 in '' | *[!0-9]*) xh_err "bad host number '$1'"; return 1 ;; esac
	[ -d "$XH_DIR/h$1" ] || { xh_err "no host h$1 (is the cluster up?)"; return 1; }
}

# seconds (may be fractional) -> microseconds
_xh_us() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }'; }

# microseconds -> seconds with 3 decimals
_xh_fmt_us() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000000 }'; }

# true while $1 is a live (non-zombie) process (no fork: called in loops)
_xh_alive() {
	local st
	{ read -r st < "/proc/$1/stat"; } 2>/dev/null || return 1
	st=${st##*) }           # the state follows "(comm) "; comm may hold spaces
	st=${st%% *}
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# the value after --name in the command line of PID $1 (no fork)
_xh_simname() {
	local -a args
	local k
	{ mapfile -d '' args < "/proc/$1/cmdline"; } 2>/dev/null || return 1
	for ((k = 0; k + 1 < ${#args[@]}; k++)); do
		[ "${args[k]}" = --name ] && { echo "${args[k + 1]}"; return 0; }
	done
	return 1
}

# true if PID $1 is a live xenha-simdom
_xh_is_simdom() {
	local comm
	{ read -r comm < "/proc/$1/comm"; } 2>/dev/null || return 1
	[ "$comm" = xenha-simdom ] && _xh_alive "$1"
}

_xh_cmdline() { tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null; }

# true if PID $1 is alive and its command line contains $2 (PID reuse
# guard; no fork: it runs in polling loops)
_xh_ours() {
	local -a args
	_xh_alive "$1" || return 1
	{ mapfile -d '' args < "/proc/$1/cmdline"; } 2>/dev/null || return 1
	[[ " ${args[*]} " == *"$2"* ]]
}

_xh_wait_gone() { # PID [tenths of a second, default 100]
	local n
	for n in $(seq "${2:-100}"); do
		_xh_alive "$1" || return 0
		sleep 0.1
	done
	! _xh_alive "$1"
}

# --------------------------------------------------------- prerequisites

xh_prereq() {
	local c missing=""
	[ "$(id -u)" = 0 ] || { xh_err "must run as root (namespaces, mounts)"; return 1; }
	for c in ip corosync corosync-quorumtool jq setpriv setsid mountpoint timeout flock awk; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	if [ -n "$missing" ]; then
		xh_err "missing commands:$missing (Debian: apt-get install iproute2 corosync jq util-linux coreutils gawk)"
		return 1
	fi
	if [ "$XH_NO_XENHAD" != 1 ]; then
		for c in "$XH_XENHAD" "$XH_HACTL" "$XH_SIMDOM" "$XH_ORACLE"; do
			[ -x "$c" ] || missing="$missing $c"
		done
		if [ -n "$missing" ]; then
			xh_err "missing binaries:$missing (set XENHA_BUILD to a build tree; now $XENHA_BUILD)"
			return 1
		fi
	fi
	# hactl's permission check needs the group; xenhad accepts root and haclient
	getent group haclient >/dev/null || groupadd --system haclient || return 1
	# mount points for the per-host binds (empty directories in the root fs)
	mkdir -p /var/lib/corosync /var/log/corosync /var/lib/xenha /var/log/xenha || return 1
}

# ------------------------------------------------------------------ lock

# A test run (run.sh, or a case run on its own) holds a lock per prefix for
# its whole duration, so two runs with the same XH_PREFIX never tear down
# each other's cluster; `up`, `net` and `down` refuse to touch a cluster
# whose lock another run holds.  (A cluster made by hand with xcluster holds
# no lock: a test run with the same prefix replaces it.  Use your own
# XH_PREFIX for clusters you keep.)
XH_LOCKFILE=${XH_LOCKFILE:-/run/xenha-cluster-$XH_PREFIX.lock}

xh_lock() {
	[ "${XH_LOCK_HELD:-}" = "$XH_PREFIX" ] && return 0
	exec {XH_LOCK_FD}>>"$XH_LOCKFILE" || return 1
	if ! flock -n "$XH_LOCK_FD"; then
		xh_err "cluster $XH_PREFIX is in use by another test run ($(cat "$XH_LOCKFILE" 2>/dev/null)); set XH_PREFIX to run beside it"
		exec {XH_LOCK_FD}>&-
		unset XH_LOCK_FD
		return 1
	fi
	echo "pid $$ since $(date +%T)" > "$XH_LOCKFILE"
	export XH_LOCK_HELD=$XH_PREFIX XH_LOCK_FD
}

_xh_check_lock() {
	[ "${XH_LOCK_HELD:-}" = "$XH_PREFIX" ] && return 0
	[ -e "$XH_LOCKFILE" ] || return 0
	flock -n "$XH_LOCKFILE" true && return 0
	xh_err "a test run holds cluster $XH_PREFIX ($(cat "$XH_LOCKFILE" 2>/dev/null)); not touching it"
	return 1
}

# run CMD without the lock's file descriptor (daemons must not inherit it)
_xh_nolock() {
	if [ -n "${XH_LOCK_FD:-}" ]; then
		"$@" {XH_LOCK_FD}>&-
	else
		"$@"
	fi
}

# --------------------------------------------------------------- configs

_xh_gen_corosync() { # N
	local n=$1 i
	{
		echo "# generated by tests/cluster/lib.sh"
		echo "totem {"
		echo "  version: 2"
		echo "  cluster_name: $XH_PREFIX"
		echo "  transport: knet"
		echo "  token: $XH_TOKEN"
		echo "  token_coefficient: 0"
		echo "  crypto_cipher: none"
		echo "  crypto_hash: none"
		echo "}"
		echo "nodelist {"
		for i in $(seq 1 "$n"); do
			echo "  node {"
			echo "    nodeid: $i"
			echo "    name: h$i"
			echo "    ring0_addr: $XH_NET.$((10 + i))"
			echo "  }"
		done
		echo "}"
		echo "quorum {"
		echo "  provider: corosync_votequorum"
		echo "}"
		echo "logging {"
		echo "  to_stderr: no"
		echo "  to_syslog: no"
		echo "  to_logfile: yes"
		echo "  logfile: /var/log/corosync/corosync.log"
		echo "  timestamp: hires"
		echo "  debug: off"
		echo "}"
		echo "system {"
		echo "  state_dir: /var/lib/corosync"
		echo "  sched_rr: yes"
		echo "}"
	} > "$XH_DIR/corosync.conf"
}

_xh_gen_xenha_conf() { # I
	cat > "$XH_DIR/h$1/xenha.conf" <<-EOF
	# generated by tests/cluster/lib.sh for host h$1
	[node]
	hypervisor = sim
	state_dir = /var/lib/xenha
	mem_reserved_mb = $XH_MEM_RESERVED_MB
	dom_overhead_mb = $XH_DOM_OVERHEAD_MB

	[sim]
	image_dir = $XH_DIR/images
	run_dir = /run/xenha/sim
	simdom = $XH_SIMDOM
	memory_mb = $XH_SIM_MEMORY_MB
	hold_max_mb = $XH_SIM_HOLD_MB
	dirty_kib_s = $XH_SIM_DIRTY_KIB_S
	record_ms = 50

	[migration]
	keyfile = $XH_DIR/authkey
	port = 7405
	max_concurrent = $XH_MIG_MAX_CONCURRENT

	[log]
	syslog = no
	file = /var/log/xenha/xenhad.log
	debug = yes
	EOF
	[ "$XH_FENCED" = 1 ] || return 0
	cat >> "$XH_DIR/h$1/xenha.conf" <<-EOF

	[fencing]
	device = $(cat "$XH_DIR/loopdev")
	watchdog = test:$XH_DIR/h$1/wd.sock
	tick_ms = $XH_TICK_MS
	lease_ms = $XH_LEASE_MS
	margin_ms = $XH_MARGIN_MS
	disk_timeout_ms = 1000
	xenhad_timeout_ms = 10000
	sysrq = no
	disk_fault_file = $XH_DIR/h$1/diskfault
	EOF
	[ "${XH_FENCE_AGENT:-0}" = 1 ] || return 0
	cat >> "$XH_DIR/h$1/xenha.conf" <<-EOF

	[fence-device xhsim]
	agent = $XH_LIB_DIR/fence_xhsim
	hosts = $(seq -s ' ' -f 'h%g' 1 "$(_xh_nhosts)")
	level = 1
	timeout_ms = 20000
	args = dir=$XH_DIR
	EOF
}

# The shared heartbeat disk: a 4 MiB file on a loop device, initialised by
# `hactl disk init` (sbd-compatible header, timeouts W and msgwait).
_xh_disk_up() {
	local dev
	truncate -s 4M "$XH_DIR/hbdisk.img" || return 1
	dev=$(losetup -f --show "$XH_DIR/hbdisk.img") || return 1
	echo "$dev" > "$XH_DIR/loopdev"
	"$XH_HACTL" disk init "$dev" --slots 16 --watchdog "$XH_WD_S" --msgwait "$XH_MSGWAIT_S" \
		--loop 1 --yes >"$XH_DIR/disk-init.log" 2>&1 || { cat "$XH_DIR/disk-init.log" >&2; return 1; }
}

_xh_disk_down() {
	local dev
	[ -s "$XH_DIR/loopdev" ] || return 0
	dev=$(cat "$XH_DIR/loopdev")
	# only our loop device: its backing file must be our image
	if losetup -n -O BACK-FILE "$dev" 2>/dev/null | grep -qF "$XH_DIR/hbdisk.img"; then
		losetup -d "$dev" || xh_err "cannot detach $dev"
	fi
	rm -f "$XH_DIR/loopdev"
}

# The test watchdog of host I: xenha-testwd in the ROOT namespace (so it
# survives the host's power-off), listening on $XH_DIR/hI/wd.sock; when it
# expires it powers host I off through this harness, as hardware would.
xh_start_testwd() { # I
	local i=$1 h=$XH_DIR/h$1 pid
	if [ -s "$h/testwd.xhpid" ] && _xh_ours "$(cat "$h/testwd.xhpid")" "$h/wd.sock"; then
		return 0
	fi
	rm -f "$h/wd.sock"
	XH_PREFIX=$XH_PREFIX XH_DIR=$XH_DIR XH_NET=$XH_NET XENHA_BUILD=$XENHA_BUILD \
		_xh_nolock setsid "$XH_TESTWD" --socket "$h/wd.sock" --pidfile "$h/testwd.pid" \
		--log "$h/log/testwd.log" --host "h$i" -- "$XH_LIB_DIR/xcluster" poweroff "$i" \
		</dev/null >>"$h/log/testwd.stderr" 2>&1 &
	pid=$!
	disown "$pid" 2>/dev/null
	echo "$pid" > "$h/testwd.xhpid"
	xh_wait_until 5 "test watchdog of h$i listening" test -S "$h/wd.sock" >/dev/null || return 1
	# its own record of its PID (setsid may have forked)
	[ -s "$h/testwd.pid" ] && cp "$h/testwd.pid" "$h/testwd.xhpid"
	return 0
}

# Tell host I's test watchdog that the host is off (a powered-off machine's
# watchdog stops counting): "disarm" on its socket.
_xh_testwd_disarm() { # I
	local s=$XH_DIR/h$1/wd.sock
	[ -S "$s" ] || return 0
	python3 - "$s" <<-'PY' 2>/dev/null
	import socket, sys
	c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	c.settimeout(2)
	c.connect(sys.argv[1])
	c.sendall(b"disarm\n")
	c.close()
	PY
	return 0
}

# The command prefix for daemon WHAT of host I: valgrind if the host is
# listed in XH_VALGRIND (sets the array XH_VG, empty otherwise).
_xh_vg() { # I WHAT
	XH_VG=()
	case " ${XH_VALGRIND:-} " in
	*" $1 "*)
		XH_VG=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite
			--errors-for-leak-kinds=definite --track-origins=yes --num-callers=30
			--log-file="/var/log/xenha/valgrind-$2.%p.log") ;;
	esac
}

xh_start_fenced() { # I
	_xh_host_ok "$1" || return 1
	local i=$1 h=$XH_DIR/h$1 pid
	if [ -s "$h/fenced.xhpid" ] && _xh_ours "$(cat "$h/fenced.xhpid")" "$h/xenha.conf"; then
		xh_err "xenha-fenced on h$i already running"
		return 1
	fi
	if ! xh_exec "$i" "$XH_FENCED_BIN" -n -c "$h/xenha.conf" >>"$h/log/fenced.stderr" 2>&1; then
		xh_err "xenha-fenced -n rejects $h/xenha.conf:"
		tail -n 8 "$h/log/fenced.stderr" >&2
		return 1
	fi
	_xh_vg "$i" fenced
	( _xh_exec_replace "$i" "${XH_VG[@]}" "$XH_FENCED_BIN" -f -l /var/log/xenha/fenced.log -c "$h/xenha.conf" ) \
		</dev/null >>"$h/log/fenced.stderr" 2>&1 &
	pid=$!
	disown "$pid" 2>/dev/null
	echo "$pid" > "$h/fenced.xhpid"
}

xh_fenced_pid() { # I
	local pf=$XH_DIR/h$1/fenced.xhpid
	[ -s "$pf" ] && _xh_ours "$(cat "$pf")" "$XH_DIR/h$1/xenha.conf" && cat "$pf"
}

xh_kill_fenced() { # I [SIG=KILL]
	local pid
	pid=$(xh_fenced_pid "$1") || { xh_err "no xenha-fenced on h$1"; return 1; }
	kill -"${2:-KILL}" "$pid"
}

# true once host I's fenced has armed its watchdog
xh_fenced_armed() { # I
	grep -q 'watchdog .* armed' "$XH_DIR/h$1/log/fenced.log" 2>/dev/null
}

# true if host I's test watchdog has fired since the case began
xh_testwd_fired() { # I
	grep -q 'expired' "$XH_DIR/h$1/log/testwd.log" 2>/dev/null
}

# ------------------------------------------------------------------ net

# Create namespaces, bridge, directories and configs for N hosts.
xh_net_up() { # N
	local n=$1 i h ns
	case $n in '' | *[!0-9]*) xh_err "usage: net N"; return 2 ;; esac
	[ "$n" -ge 1 ] && [ "$n" -le 32 ] || { xh_err "N must be 1..32"; return 2; }
	_xh_checkdir || return 1
	_xh_check_lock || return 3
	if [ -e "/run/netns/$XH_SW" ] || { [ -d "$XH_DIR/h1" ] && ! [ -e "$XH_DIR/kept" ]; }; then
		xh_err "cluster $XH_PREFIX exists - run down first"
		return 3
	fi
	if [ -e "$XH_DIR" ] && ! [ -e "$XH_DIR/.xenha-cluster" ] && [ -n "$(ls -A "$XH_DIR")" ]; then
		xh_err "refusing to use $XH_DIR: not empty and not made by this harness"
		return 3
	fi
	# leftovers of an XH_KEEP=1 run
	mountpoint -q "$XH_DIR/shm" && umount "$XH_DIR/shm"
	_xh_rmdir
	mkdir -p "$XH_DIR/shm" "$XH_DIR/images" || return 1
	: > "$XH_DIR/.xenha-cluster"
	mount -t tmpfs -o size=512m,mode=1777 "$XH_PREFIX-shm" "$XH_DIR/shm" || return 1
	echo "$n" > "$XH_DIR/nhosts"
	_xh_gen_corosync "$n"
	if [ "$XH_FENCED" = 1 ]; then
		_xh_disk_up || return 1
	fi
	ip netns add "$XH_SW" || return 1
	ip -n "$XH_SW" link set lo up
	ip -n "$XH_SW" link add br0 type bridge stp_state 0 forward_delay 0 || return 1
	ip -n "$XH_SW" link set br0 up
	for i in $(seq 1 "$n"); do
		h=$XH_DIR/h$i
		ns=$(_xh_ns "$i")
		mkdir -p "$h/run" "$h/corosync" "$h/xenha" "$h/log" "$XH_DIR/shm/h$i" || return 1
		chmod 1777 "$XH_DIR/shm/h$i"
		if [ "$XH_NO_XENHAD" != 1 ]; then
			[ -f "$XH_DIR/authkey" ] ||
				"$XH_HACTL" keygen -f "$XH_DIR/authkey" >/dev/null || return 1
			_xh_gen_xenha_conf "$i"
		fi
		ip netns add "$ns" || return 1
		ip -n "$XH_SW" link add "p$i" type veth peer name eth0 netns "$ns" || return 1
		ip -n "$XH_SW" link set "p$i" master br0 up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$XH_NET.$((10 + i))/24" dev eth0
		ip -n "$ns" link set eth0 up
	done
}

# Isolate host I: its switch port leaves the bridge (a silent black hole,
# the host keeps its carrier and sees nothing).
xh_cut() { # I
	_xh_host_ok "$1" || return 1
	ip -n "$XH_SW" link set "p$1" nomaster
}

xh_heal() { # I
	_xh_host_ok "$1" || return 1
	ip -n "$XH_SW" link set "p$1" master br0 up &&
	ip -n "$(_xh_ns "$1")" link set eth0 up
}

# Partition: each argument is a list of hosts; list k goes to bridge brk
# (hosts not named stay where they are).  xh_part "1 2" "3"
xh_part() {
	local g=0 grp i
	[ $# -ge 2 ] || { xh_err "usage: part \"1 2\" \"3\" ..."; return 2; }
	for grp in "$@"; do
		if ! ip -n "$XH_SW" link show "br$g" >/dev/null 2>&1; then
			ip -n "$XH_SW" link add "br$g" type bridge stp_state 0 forward_delay 0 &&
			ip -n "$XH_SW" link set "br$g" up || return 1
		fi
		for i in $grp; do
			_xh_host_ok "$i" || return 1
			ip -n "$XH_SW" link set "p$i" master "br$g" up || return 1
		done
		g=$((g + 1))
	done
}

xh_unpart() {
	local i
	for i in $(_xh_hosts); do
		ip -n "$XH_SW" link set "p$i" master br0 up || return 1
	done
}

# -------------------------------------------------------- run in a host

# The command prefix that runs something inside host I: its network
# namespace, then (in the private mount namespace `ip netns exec` makes)
# the per-host bind mounts; sets the array XH_HOSTCMD.  Append CMD ARGS.
# ip, sh and CMD all exec(), so the PID of the prefix is CMD's PID.
_xh_hostcmd() { # I
	XH_HOSTCMD=(ip netns exec "$(_xh_ns "$1")" /bin/sh -c '
		h=$1; s=$2; shift 2
		mount --bind "$h/run" /run &&
		mount --bind "$s" /dev/shm &&
		mount --bind "$h/corosync" /var/lib/corosync &&
		mount --bind "$h/log" /var/log/corosync &&
		mount --bind "$h/xenha" /var/lib/xenha &&
		mount --bind "$h/log" /var/log/xenha || exit 111
		exec "$@"' xh-host "$XH_DIR/h$1" "$XH_DIR/shm/h$1")
}

# Run CMD inside host I; returns CMD's status (111 if the mounts failed).
# stdin/stdout/stderr are the caller's.
xh_exec() { # I CMD...
	_xh_host_ok "$1" || return 1
	_xh_hostcmd "$1"
	shift
	_xh_nolock "${XH_HOSTCMD[@]}" "$@"
}

# Like xh_exec but replaces the calling (sub)shell: `( _xh_exec_replace I CMD ) &`
# leaves $! = the PID of CMD itself.
_xh_exec_replace() { # I CMD...
	_xh_hostcmd "$1"
	shift
	[ -z "${XH_LOCK_FD:-}" ] || exec {XH_LOCK_FD}>&-
	exec "${XH_HOSTCMD[@]}" "$@"
}

# Start CMD in the background inside host I, output appended to OUTFILE;
# prints its PID (the PID of CMD itself).  The caller must stop it by PID
# (xh_down kills whatever is left in our namespaces anyway).
xh_spawn() { # I OUTFILE CMD...
	_xh_host_ok "$1" || return 1
	local i=$1 out=$2
	shift 2
	( _xh_exec_replace "$i" "$@" ) </dev/null >>"$out" 2>&1 &
	disown $! 2>/dev/null
	echo $!
}

# ------------------------------------------------------------- corosync

xh_start_corosync() { # I
	_xh_host_ok "$1" || return 1
	local i=$1 h=$XH_DIR/h$1 pid
	if [ -s "$h/corosync.xhpid" ] && _xh_ours "$(cat "$h/corosync.xhpid")" "$XH_DIR/corosync.conf"; then
		xh_err "corosync on h$i already running"
		return 1
	fi
	rm -f "$h/run/corosync.pid"
	( _xh_exec_replace "$i" /usr/sbin/corosync -f -c "$XH_DIR/corosync.conf" ) \
		</dev/null >>"$h/log/corosync.stdout" 2>&1 &
	pid=$!
	disown "$pid" 2>/dev/null
	echo "$pid" > "$h/corosync.xhpid"
}

# Stop a recorded process: signal, wait up to 10 s, then SIGKILL.  Returns 1
# if it had to be killed after a SIGTERM (the program ignored the request).
_xh_stop_pidfile() { # PIDFILE MATCH SIG WHAT
	local pf=$1 match=$2 sig=$3 what=$4 pid rc=0
	[ -s "$pf" ] || return 0
	pid=$(cat "$pf")
	if _xh_ours "$pid" "$match"; then
		kill -s "$sig" "$pid" 2>/dev/null
		if ! _xh_wait_gone "$pid" 100; then
			xh_err "$what pid=$pid still alive 10 s after SIG$sig; killing it"
			kill -9 "$pid" 2>/dev/null
			_xh_wait_gone "$pid" 50
			rc=1
		fi
	fi
	rm -f "$pf"
	return $rc
}

xh_stop_corosync() { # I [SIG=TERM]
	_xh_host_ok "$1" || return 1
	_xh_stop_pidfile "$XH_DIR/h$1/corosync.xhpid" "$XH_DIR/corosync.conf" "${2:-TERM}" "corosync on h$1"
}

# --------------------------------------------------------------- xenhad

xh_start_xenhad() { # I
	_xh_host_ok "$1" || return 1
	local i=$1 h=$XH_DIR/h$1 pid
	[ "$XH_NO_XENHAD" != 1 ] || { xh_err "XH_NO_XENHAD=1: not starting xenhad"; return 1; }
	if [ -s "$h/xenhad.xhpid" ] && _xh_ours "$(cat "$h/xenhad.xhpid")" "$h/xenha.conf"; then
		xh_err "xenhad on h$i already running"
		return 1
	fi
	if ! xh_exec "$i" "$XH_XENHAD" -n -c "$h/xenha.conf" >>"$h/log/xenhad.stderr" 2>&1; then
		xh_err "xenhad -n rejects $h/xenha.conf:"
		tail -n 5 "$h/log/xenhad.stderr" >&2
		return 1
	fi
	_xh_vg "$i" xenhad
	( _xh_exec_replace "$i" "${XH_VG[@]}" "$XH_XENHAD" -f -c "$h/xenha.conf" ) \
		</dev/null >>"$h/log/xenhad.stderr" 2>&1 &
	pid=$!
	disown "$pid" 2>/dev/null
	echo "$pid" > "$h/xenhad.xhpid"
}

xh_kill_xenhad() { # I [SIG=KILL]
	_xh_host_ok "$1" || return 1
	_xh_stop_pidfile "$XH_DIR/h$1/xenhad.xhpid" "$XH_DIR/h$1/xenha.conf" "${2:-KILL}" "xenhad on h$1"
}

xh_xenhad_pid() { # I - prints the PID if our xenhad runs on host I
	local pf=$XH_DIR/h$1/xenhad.xhpid pid
	[ -s "$pf" ] || return 1
	pid=$(cat "$pf")
	_xh_ours "$pid" "$XH_DIR/h$1/xenha.conf" && echo "$pid"
}

# ---------------------------------------------------------------- hactl

# hactl on host I; stdin is /dev/null, bounded by XH_HACTL_TIMEOUT s
# (exit 124 when it had to be stopped).
xh_hactl() { # I ARGS...
	_xh_host_ok "$1" || return 1
	_xh_hostcmd "$1"
	shift
	_xh_nolock timeout -k 2 "$XH_HACTL_TIMEOUT" "${XH_HOSTCMD[@]}" "$XH_HACTL" "$@" </dev/null
}

# ---------------------------------------------------------- power, host

# Host I's power switch, held while it is powered off or on.  The test
# watchdog powers a host off from another process (xcluster poweroff) at
# any time; without the switch, a campaign that found the host's
# namespace empty between two of its kill rounds powered it on, the
# rounds killed part of what had just started, a fenced survived them and
# the pid files were removed under it (2026-12-06, seed 2029 step 248).
# mkdir is atomic; a holder that died leaves a stale lock, which is taken
# over.  Bounded: 30 s.
_xh_power_take() { # I
	local d=$XH_DIR/h$1/power.lock n pid=""
	for ((n = 0; n < 300; n++)); do
		if mkdir "$d" 2>/dev/null; then
			echo "$BASHPID" > "$d/pid"
			return 0
		fi
		pid=$(cat "$d/pid" 2>/dev/null)
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			rm -rf "$d"
			continue
		fi
		sleep 0.1
	done
	xh_err "h$1: the power switch is busy (held by pid ${pid:-?})"
	return 1
}
_xh_power_give() { rm -rf "$XH_DIR/h$1/power.lock"; }
# _xh_with_power I CMD...: CMD while holding host I's power switch; its status
# (1 if the switch stayed busy)
_xh_with_power() { # I CMD...
	local i=$1 rc
	shift
	_xh_power_take "$i" || return 1
	"$@"
	rc=$?
	_xh_power_give "$i"
	return $rc
}

# Power off host I: its switch port goes down (no carrier, nothing more
# leaves it), then every process in its network namespace is killed with
# SIGKILL: corosync, xenhad and its sim domains die at once.
xh_poweroff() { # I
	_xh_host_ok "$1" && _xh_with_power "$1" _xh_poweroff "$1"
}
_xh_poweroff() { # I
	local i=$1 ns pids pid
	ns=$(_xh_ns "$i")
	ip -n "$XH_SW" link set "p$i" down
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] || break
		for pid in $pids; do kill -9 "$pid" 2>/dev/null; done
		for pid in $pids; do _xh_wait_gone "$pid" 50; done
	done
	rm -f "$XH_DIR/h$i/corosync.xhpid" "$XH_DIR/h$i/xenhad.xhpid" "$XH_DIR/h$i/fenced.xhpid"
	_xh_testwd_disarm "$i"
	if [ -n "$(ip netns pids "$ns" 2>/dev/null)" ]; then
		xh_err "processes survive in $ns: $(ip netns pids "$ns" | tr '\n' ' ')"
		return 1
	fi
}

# Power host I on again: /run and /dev/shm are volatile (emptied), the disk
# (/var/lib/xenha, logs) is kept; link up, corosync and xenhad started.
xh_poweron() { # I
	_xh_host_ok "$1" && _xh_with_power "$1" _xh_poweron "$1"
}
_xh_poweron() { # I
	local i=$1
	[ -z "$(ip netns pids "$(_xh_ns "$i")" 2>/dev/null)" ] || { xh_err "h$i is not powered off"; return 1; }
	find "$XH_DIR/h$i/run" "$XH_DIR/shm/h$i" -mindepth 1 -delete
	xh_heal "$i" || return 1
	xh_start_corosync "$i" || return 1
	[ "$XH_NO_XENHAD" = 1 ] || xh_start_xenhad "$i" || return 1
	[ "$XH_FENCED" != 1 ] || xh_start_fenced "$i"
}

# --------------------------------------------------------------- waiting

# Poll CMD every 0.1 s until it succeeds or TIMEOUT_S passes.  On success
# XH_WAITED = seconds waited, XH_WAIT_END_US = time (us) it was seen true.
xh_wait_until() { # TIMEOUT_S DESC CMD...
	local tmo_us desc=$2 t0 now n max
	tmo_us=$(_xh_us "$1")
	shift 2
	t0=${EPOCHREALTIME/[.,]/}
	max=$(( tmo_us / 100000 + 2 ))
	for ((n = 0; n < max; n++)); do
		if "$@"; then
			XH_WAIT_END_US=${EPOCHREALTIME/[.,]/}
			XH_WAITED=$(_xh_fmt_us $((XH_WAIT_END_US - t0)))
			return 0
		fi
		now=${EPOCHREALTIME/[.,]/}
		[ $((now - t0)) -lt "$tmo_us" ] || break
		sleep 0.1
	done
	XH_WAITED=$(_xh_fmt_us $((${EPOCHREALTIME/[.,]/} - t0)))
	xh_err "timeout after ${XH_WAITED}s waiting for: $desc"
	return 1
}

# Check CMD every 0.2 s for DURATION_S; fails as soon as it is false.
xh_hold() { # DURATION_S DESC CMD...
	local dur_us desc=$2 t0 now n max
	dur_us=$(_xh_us "$1")
	shift 2
	t0=${EPOCHREALTIME/[.,]/}
	max=$(( dur_us / 200000 + 2 ))
	for ((n = 0; n < max; n++)); do
		if ! "$@"; then
			xh_err "no longer true after $(_xh_fmt_us $((${EPOCHREALTIME/[.,]/} - t0)))s: $desc"
			return 1
		fi
		now=${EPOCHREALTIME/[.,]/}
		[ $((now - t0)) -lt "$dur_us" ] || return 0
		sleep 0.2
	done
	return 0
}

# corosync on host I sees N members and is quorate
xh_corosync_ready() { # I N
	local out
	out=$(xh_exec "$1" corosync-quorumtool -s 2>/dev/null)
	echo "$out" | grep -Eq "^Nodes: +$2\$" && echo "$out" | grep -Eq '^Quorate: +Yes'
}

# `jq -e` that fails when there is no JSON at all.  Debian's jq 1.6 exits 0
# under -e when its input is empty, so `hactl ... | xh_jqe COND` would pass
# when hactl failed and printed nothing.  Use this for every such check.
xh_jqe() {
	local in
	in=$(cat)
	[ -n "${in//[[:space:]]/}" ] || return 1
	printf '%s\n' "$in" | command jq -e "$@"
}

# xenhad on host I: N members, quorate, state synced
xh_xenhad_ready() { # I N
	xh_hactl "$1" --json status 2>/dev/null | xh_jqe --argjson n "$2" '
		(.cluster.members | if type == "array" then length else . end) == $n
		and .cluster.quorate == true and .local.quorate == true
		and .local.synced == true' >/dev/null 2>&1
}

_xh_all_ready() { # N
	local i
	for i in $(_xh_hosts); do
		[ -z "$(ip netns pids "$(_xh_ns "$i")" 2>/dev/null)" ] && continue # powered off
		if [ "$XH_NO_XENHAD" = 1 ]; then
			xh_corosync_ready "$i" "$1" || return 1
		else
			xh_xenhad_ready "$i" "$1" || return 1
		fi
	done
}

# Wait until every running host sees N members (quorate; xenhad: synced).
xh_wait_up() { # N [TIMEOUT_S=60]
	xh_wait_until "${2:-60}" "$1 members, quorate, synced on every host" _xh_all_ready "$1"
}

# ------------------------------------------------------------------- up

xh_up() { # N
	local n=$1 i t0
	xh_prereq || return 1
	t0=${EPOCHREALTIME/[.,]/}
	xh_net_up "$n"
	case $? in
	0) ;;
	3) return 1 ;;          # someone else's cluster or directory: leave it alone
	*) xh_down; return 1 ;;
	esac
	for i in $(seq 1 "$n"); do xh_start_corosync "$i" || return 1; done
	# corosync first: if it cannot form, say so instead of blaming xenhad
	xh_wait_until 30 "corosync: $n members on every host" _xh_corosync_all "$n" || return 1
	if [ "$XH_NO_XENHAD" != 1 ]; then
		for i in $(seq 1 "$n"); do xh_start_xenhad "$i" || return 1; done
		xh_wait_up "$n" 60 || return 1
	fi
	if [ "$XH_FENCED" = 1 ]; then
		for i in $(seq 1 "$n"); do xh_start_testwd "$i" || return 1; done
		for i in $(seq 1 "$n"); do xh_start_fenced "$i" || return 1; done
		for i in $(seq 1 "$n"); do
			xh_wait_until 30 "xenha-fenced on h$i armed its watchdog" xh_fenced_armed "$i" \
				>/dev/null || return 1
		done
	fi
	echo "cluster $XH_PREFIX: $n hosts up in $(_xh_fmt_us $((${EPOCHREALTIME/[.,]/} - t0)))s ($XH_DIR)"
}

_xh_corosync_all() { # N
	local i
	for i in $(_xh_hosts); do xh_corosync_ready "$i" "$1" || return 1; done
}

# ----------------------------------------------------------------- down

# Idempotent.  1) the corosyncs and xenhads we recorded, by PID checked
# against their command line; 2) anything else in one of our namespaces
# (sim domains, clients); 3) namespaces; 4) the /dev/shm tmpfs; 5) $XH_DIR.
xh_down() {
	local pf pid pids="" ns nss
	_xh_checkdir || return 1
	_xh_check_lock || return 1
	# the test watchdogs first: they must not power anything off while we
	# tear the hosts down (SIGTERM: exits without firing)
	for pf in "$XH_DIR"/h*/testwd.xhpid; do
		[ -e "$pf" ] || continue
		pid=$(cat "$pf")
		_xh_ours "$pid" "$(dirname "$pf")/wd.sock" && { kill -TERM "$pid"; _xh_wait_gone "$pid" 30 || kill -9 "$pid"; }
		rm -f "$pf"
	done
	for pf in "$XH_DIR"/h*/xenhad.xhpid "$XH_DIR"/h*/fenced.xhpid "$XH_DIR"/h*/corosync.xhpid; do
		[ -e "$pf" ] || continue
		pid=$(cat "$pf")
		case $pf in
		*xenhad.xhpid | *fenced.xhpid) _xh_ours "$pid" "$(dirname "$pf")/xenha.conf" && { kill -9 "$pid"; pids="$pids $pid"; } ;;
		*) _xh_ours "$pid" "$XH_DIR/corosync.conf" && { kill -9 "$pid"; pids="$pids $pid"; } ;;
		esac
		rm -f "$pf"
	done
	nss=$(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E "^$XH_PREFIX-(h[0-9]+|sw)\$")
	for ns in $nss; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null && pids="$pids $pid"
		done
	done
	for pid in $pids; do
		_xh_wait_gone "$pid" 50 || xh_err "pid $pid did not die"
	done
	for ns in $nss; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] || xh_err "processes left in $ns: $pids"
		ip netns del "$ns" || xh_err "cannot delete netns $ns"
	done
	if mountpoint -q "$XH_DIR/shm"; then
		umount "$XH_DIR/shm" || umount -l "$XH_DIR/shm" || xh_err "cannot unmount $XH_DIR/shm"
	fi
	_xh_disk_down
	if [ "$XH_KEEP" != 1 ]; then
		mountpoint -q "$XH_DIR/shm" || _xh_rmdir
	elif [ -d "$XH_DIR/h1" ]; then
		: > "$XH_DIR/kept"
	fi
	return 0
}

# remove $XH_DIR, but only if this harness made it (marker file)
_xh_rmdir() {
	[ -d "$XH_DIR" ] || return 0
	if [ -e "$XH_DIR/.xenha-cluster" ]; then
		rm -rf --one-file-system "$XH_DIR"
	else
		xh_err "not removing $XH_DIR: no .xenha-cluster marker"
	fi
}

# ------------------------------------------------------------ inspection

# Run the split-brain oracle on the shared images; prints its summary
# (and violations), returns its exit code (0 clean, 1 split brain).
xh_oracle() {
	[ -x "$XH_ORACLE" ] || { xh_err "no oracle at $XH_ORACLE"; return 2; }
	"$XH_ORACLE" "$XH_DIR/images"
}

# Every live sim domain process in our host namespaces: "I PID NAME" lines.
# Ground truth: the processes themselves, not the pid files.  One pass over
# /proc without forks (it runs in polling loops): a process is in host I
# if its /proc/PID/ns/net is the same file as /run/netns/PREFIX-hI.
xh_sim_procs() {
	local d pid i n name
	n=$(_xh_nhosts)
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		_xh_is_simdom "$pid" || continue
		for ((i = 1; i <= n; i++)); do
			[ "$d/ns/net" -ef "/run/netns/$XH_PREFIX-h$i" ] && break
		done
		[ "$i" -le "$n" ] || continue
		name=$(_xh_simname "$pid") || name="?"
		echo "$i $pid $name"
	done
}

# PID of the sim domain NAME according to host I's pid file, if that
# process is alive and is the sim domain NAME.
xh_simpid() { # I NAME
	local pf=$XH_DIR/h$1/run/xenha/sim/$2.pid pid
	{ read -r pid _ < "$pf"; } 2>/dev/null || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	_xh_is_simdom "$pid" || return 1
	[ "$(_xh_simname "$pid")" = "$2" ] || return 1
	echo "$pid"
}

# "I PID NAME" for every live pid file across hosts
xh_sim_pidfiles() {
	local i f name pid
	for i in $(_xh_hosts); do
		for f in "$XH_DIR/h$i/run/xenha/sim"/*.pid; do
			[ -e "$f" ] || continue
			name=$(basename "$f" .pid)
			pid=$(xh_simpid "$i" "$name") && echo "$i $pid $name"
		done
	done
}

# Print the tail of every host's logs (for a failing case).
xh_dump_logs() { # [LINES=40]
	local i f n=${1:-40}
	for i in $(_xh_hosts); do
		for f in xenhad.log xenhad.stderr corosync.log; do
			[ -s "$XH_DIR/h$i/log/$f" ] || continue
			echo "----- h$i $f (last $n lines) -----"
			tail -n "$n" "$XH_DIR/h$i/log/$f"
		done
	done
}

# Copy logs, persisted state and images of the cluster to DEST.
xh_save_logs() { # DEST
	local i
	mkdir -p "$1" || return 1
	[ -d "$XH_DIR" ] || return 0
	for i in $(_xh_hosts); do
		mkdir -p "$1/h$i"
		cp -a "$XH_DIR/h$i/log" "$XH_DIR/h$i/xenha" "$1/h$i/" 2>/dev/null
		[ -d "$XH_DIR/h$i/run/xenha" ] && cp -a "$XH_DIR/h$i/run/xenha" "$1/h$i/run-xenha" 2>/dev/null
		cp -a "$XH_DIR/h$i/xenha.conf" "$1/h$i/" 2>/dev/null
	done
	cp -a "$XH_DIR/images" "$XH_DIR/corosync.conf" "$1/" 2>/dev/null
	return 0
}

# ----------------------------------------------------- test case helpers

# Start a case: name it, make sure no cluster of ours is left, and tear the
# cluster down whatever happens (EXIT trap; INT/TERM end the case).
xh_case() { # NAME
	XH_CASE=$1
	XH_CASE_DONE=0
	XH_T0_US=${EPOCHREALTIME/[.,]/}
	xh_lock || { echo "FAIL $XH_CASE: cluster $XH_PREFIX is busy"; exit 1; }
	trap _xh_case_exit EXIT
	trap 'exit 130' INT TERM HUP
	xh_down >/dev/null 2>&1
}

_xh_case_exit() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ "${XH_CASE_DONE:-0}" != 1 ]; then
		echo "FAIL $XH_CASE: aborted (exit status $rc)"
		_xh_case_keep_logs
		rc=1
	fi
	xh_down
	exit "$rc"
}

_xh_case_keep_logs() {
	local dest=${XH_LOGSAVE:-/var/tmp/xenha-cluster/failed/$XH_PREFIX/$XH_CASE}
	xh_dump_logs 30
	if [ -d "$XH_DIR/h1" ]; then
		rm -rf --one-file-system "$dest"
		xh_save_logs "$dest" && echo "logs of the failed case saved in $dest"
	fi
}

xh_fail() { # WHY...
	echo "FAIL $XH_CASE: $*"
	XH_CASE_DONE=1
	_xh_case_keep_logs
	exit 1
}

# Daemons still alive where we started them, no sanitizer report anywhere
# (xenhad's stderr, the sim domains' logs).  Prints problems; 0 if none.
xh_health() {
	local i pf bad=0 f
	for i in $(_xh_hosts); do
		pf=$XH_DIR/h$i/xenhad.xhpid
		if [ -s "$pf" ] && ! _xh_ours "$(cat "$pf")" "$XH_DIR/h$i/xenha.conf"; then
			xh_err "xenhad on h$i (pid $(cat "$pf")) died during the case"
			bad=1
		fi
		pf=$XH_DIR/h$i/fenced.xhpid
		if [ -s "$pf" ] && ! _xh_ours "$(cat "$pf")" "$XH_DIR/h$i/xenha.conf"; then
			xh_err "xenha-fenced on h$i (pid $(cat "$pf")) died during the case"
			bad=1
		fi
		pf=$XH_DIR/h$i/corosync.xhpid
		if [ -s "$pf" ] && ! _xh_ours "$(cat "$pf")" "$XH_DIR/corosync.conf"; then
			xh_err "corosync on h$i (pid $(cat "$pf")) died during the case"
			bad=1
		fi
	done
	f=$(grep -lE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' \
		"$XH_DIR"/h*/log/*.stderr "$XH_DIR"/h*/run/xenha/sim/*.log 2>/dev/null)
	if [ -n "$f" ]; then
		xh_err "sanitizer reports in: $f"
		bad=1
	fi
	return $bad
}

# End a case successfully.  Health (xh_health) and the oracle are checked
# first; the oracle must be clean (with "expect-split-brain" it must find a
# split brain: case o).
xh_pass() { # [expect-split-brain]
	local out rc
	xh_health || xh_fail "daemon died or sanitizer report (see above)"
	if [ "$XH_NO_XENHAD" != 1 ]; then
		out=$(xh_oracle 2>&1)
		rc=$?
		echo "$out" | sed 's/^/  /'
		if [ "${1:-}" = expect-split-brain ]; then
			[ "$rc" = 1 ] || xh_fail "the oracle should have found a split brain (exit $rc)"
		else
			[ "$rc" = 0 ] || xh_fail "oracle: split brain or error (exit $rc)"
		fi
	fi
	echo "PASS $XH_CASE"
	XH_CASE_DONE=1
	exit 0
}

# ------------------------------------------------- state / domain queries

xh_domains_json() { # I
	xh_hactl "$1" --json domains
}

# one domain's object from host I's view (compact), empty if absent
xh_dom() { # I NAME
	xh_domains_json "$1" | jq -c --arg n "$2" '.domains[] | select(.name == $n)'
}

# one field of a domain (raw; null host prints "null")
xh_domf() { # I NAME FIELD
	xh_domains_json "$1" | jq -r --arg n "$2" --arg f "$3" '.domains[] | select(.name == $n) | .[$f]'
}

# "name state host generation" lines, sorted, as host I sees them
xh_dom_tuples() { # I
	xh_domains_json "$1" | jq -r '.domains[] | [.name, .state, (.host // "-"), (.generation | tostring)] | join(" ")' | sort
}

# host I's view: nodes[] entry of host NAME, field F
xh_nodef() { # I HOSTNAME FIELD
	xh_hactl "$1" --json nodes | jq -r --arg n "$2" --arg f "$3" '.nodes[] | select(.name == $n) | .[$f]'
}

# Single-copy check against the processes.  Using host I's view of the
# domains: no domain has more than one live sim process anywhere, no sim
# process runs for an unknown domain, and every RUNNING domain has exactly
# one process, on its host, matching that host's pid file.  Prints each
# problem; returns 1 if any.
xh_check_copies() { # [I=1]
	local view=${1:-1} json procs pidfiles bad=0 name state host n where pf_pid
	json=$(xh_domains_json "$view") || { xh_err "no domain list from h$view"; return 1; }
	procs=$(xh_sim_procs)
	pidfiles=$(xh_sim_pidfiles)
	while read -r name n; do
		[ -n "$name" ] || continue
		if [ "$n" -gt 1 ]; then
			xh_err "domain $name has $n live processes: $(echo "$procs" | awk -v d="$name" '$3 == d { printf "h%s:%s ", $1, $2 }')"
			bad=1
		fi
		if ! echo "$json" | xh_jqe --arg n "$name" 'any(.domains[]; .name == $n)' >/dev/null; then
			xh_err "sim process for unknown domain $name: $(echo "$procs" | awk -v d="$name" '$3 == d { printf "h%s:%s ", $1, $2 }')"
			bad=1
		fi
	done < <(echo "$procs" | awk 'NF == 3 { c[$3]++ } END { for (d in c) print d, c[d] }')
	while read -r name state host; do
		[ -n "$name" ] || continue
		[ "$state" = running ] || continue
		where=$(echo "$procs" | awk -v d="$name" '$3 == d { printf "h%s ", $1 }')
		if [ "$where" != "$host " ]; then
			xh_err "domain $name is running on $host by the state, processes on: ${where:-none}"
			bad=1
			continue
		fi
		pf_pid=$(echo "$pidfiles" | awk -v d="$name" -v h="${host#h}" '$3 == d && $1 == h { print $2 }')
		if [ -z "$pf_pid" ] || ! echo "$procs" | awk -v d="$name" -v p="$pf_pid" '$3 == d && $2 == p { f = 1 } END { exit !f }'; then
			xh_err "domain $name: pid file on $host does not name its live process"
			bad=1
		fi
	done < <(echo "$json" | jq -r '.domains[] | [.name, .state, (.host // "-")] | join(" ")')
	n=$(echo "$pidfiles" | awk 'NF == 3 { c[$3]++ } END { for (d in c) if (c[d] > 1) printf "%s ", d }')
	if [ -n "$n" ]; then
		xh_err "live pid files on more than one host for: $n"
		bad=1
	fi
	return $bad
}

# number of live sim processes of domain NAME (all hosts)
xh_sim_count() { # NAME
	xh_sim_procs | awk -v d="$1" '$3 == d { n++ } END { print n + 0 }'
}

# "NAME PID" of every live sim process, sorted (for before/after comparisons)
xh_sim_snapshot() {
	xh_sim_procs | awk '{ print $3, $2, "h" $1 }' | sort
}

# ------------------------------------------------------- domain sets

# The 20 domains of cases a and d: NAME MEMORY GROUP PRIORITY [hactl options].
# Memory 256..1024 MiB, anti-affinity groups of at most 3 members (3 hosts).
# With 8 MiB overhead each they need 8480 MiB: more than two hosts offer
# (2 x (4096 - 512) = 7168), less than three (10752), so every host is used.
XH_STD20='d01 1024 ga 10 --max-restarts 5
d02 768 gb 5
d03 640 gc 0
d04 512 ga 0
d05 512 gb 0
d06 512 gc 0
d07 384 gd 0
d08 384 gd 0
d09 384 gd 0
d10 384 ge 0
d11 384 ge 0
d12 384 ge 0
d13 256 gf -5
d14 256 gf 0
d15 256 gf 0
d16 256 gg 0
d17 256 gg 0 --restart never
d18 256 - 0 --prefer h2,h3
d19 256 - 0 --avoid h3
d20 256 - 0 --restart on-crash --max-restarts 1 --max-relocations 2'

# Add the 20 domains through hactl on host I (each add waits until applied).
xh_add_std20() { # I
	local n m g p rest args rc
	while read -r n m g p rest; do
		args=(domain add "$n" --memory "$m" --priority "$p")
		[ "$g" = - ] || args+=(--group "$g")
		# shellcheck disable=SC2206 # the options are meant to be split
		[ -z "$rest" ] || args+=($rest)
		xh_hactl "$1" "${args[@]}" >/dev/null
		rc=$?
		[ "$rc" = 0 ] || { xh_err "hactl ${args[*]}: exit $rc"; return 1; }
	done <<< "$XH_STD20"
}

# all N domains RUNNING in host I's view
xh_all_running() { # I N
	xh_domains_json "$1" 2>/dev/null | xh_jqe --argjson n "$2" \
		'(.domains | length) == $n and all(.domains[]; .state == "running")' >/dev/null 2>&1
}

# ------------------------------------------------------------- fencing

# Fencing cases: N hosts with xenha-fenced, 2 HA domains preferring each
# host (f<host><k>, 256 MiB), all running and every watchdog armed.
xh_fence_up() { # N
	local n=$1 i k
	XH_FENCED=1
	xh_up "$n" || return 1
	for i in $(seq 1 "$n"); do
		for k in 1 2; do
			xh_hactl 1 domain add "f$i$k" --memory 256 --prefer "h$i" >/dev/null || return 1
		done
	done
	xh_wait_until 40 "$((2 * n)) domains running" xh_all_running 1 $((2 * n))
}

# The domains that run on host V (by host I's view), space-separated.
xh_doms_on() { # I V
	xh_dom_tuples "$1" | awk -v h="h$2" '$2 == "running" && $3 == h { print $1 }' | tr '\n' ' '
}

# True when every domain in DOMS runs (by host I's view) on a host other
# than V, and has exactly one process.
xh_recovered() { # I V DOMS...
	local i=$1 v=$2 doms d
	shift 2
	doms=$(xh_domains_json "$i" 2>/dev/null) || return 1
	for d in "$@"; do
		echo "$doms" | xh_jqe --arg n "$d" --arg v "h$v" '.domains[] | select(.name == $n)
			| .state == "running" and .host != $v' >/dev/null || return 1
		[ "$(xh_sim_count "$d")" = 1 ] || return 1
	done
}

# Every process of host I: SIGSTOP (a frozen host) / SIGCONT.
xh_freeze() { # I
	local pid
	: > "$XH_DIR/h$1/frozen.pids"
	for pid in $(ip netns pids "$(_xh_ns "$1")" 2>/dev/null); do
		kill -STOP "$pid" 2>/dev/null && echo "$pid" >> "$XH_DIR/h$1/frozen.pids"
	done
}
xh_thaw() { # I
	local pid
	[ -s "$XH_DIR/h$1/frozen.pids" ] || return 0
	while read -r pid; do kill -CONT "$pid" 2>/dev/null; done < "$XH_DIR/h$1/frozen.pids"
	rm -f "$XH_DIR/h$1/frozen.pids"
}

# The newest history event of TYPE about host NAME, as "TIME_MS TEXT"
# (host I's view).
xh_event() { # I TYPE NAME
	xh_hactl "$1" --json history 2>/dev/null | jq -r --arg t "$2" --arg h "$3" \
		'[.events[] | select(.type == $t and ((.text // "") | contains($h)))] | last
		 | select(. != null) | "\(.time_ms) \(.text)"'
}

# ---------------------------------------------------------------- migration
# Every listed host's view gives the same (name, state, host, generation).
xh_same_placement() { # HOSTS...
	local first="" i t
	for i in "$@"; do
		t=$(xh_dom_tuples "$i") || return 1
		[ -n "$t" ] || return 1
		if [ -z "$first" ]; then first=$t; elif [ "$t" != "$first" ]; then
			xh_err "placement differs between h$1 and h$i"
			diff <(echo "$first") <(echo "$t") >&2
			return 1
		fi
	done
}
# Slow the link into host I to RATE (tc tbf on its switch port), so a
# migration to I lasts long enough to break it mid-stream; "off" removes it.
xh_shape() { # I RATE|off
	_xh_host_ok "$1" || return 1
	tc -n "$XH_SW" qdisc del dev "p$1" root 2>/dev/null
	[ "$2" = off ] && return 0
	tc -n "$XH_SW" qdisc add dev "p$1" root tbf rate "$2" burst 64kb latency 2s
}
# Drop (nft, inside host I) every TCP segment to the migration port: the
# stream stalls silently while corosync keeps working; "off" removes it.
xh_block_mig() { # I on|off
	_xh_host_ok "$1" || return 1
	if [ "$2" = off ]; then
		ip netns exec "$(_xh_ns "$1")" nft delete table inet xhmig 2>/dev/null
		return 0
	fi
	ip netns exec "$(_xh_ns "$1")" nft -f - <<-NFT
	table inet xhmig {
		chain in { type filter hook input priority 0; tcp dport 7405 drop; }
	}
	NFT
}
# The migration progress of NAME as host I shows it: "ROUND BYTES" (nothing
# if no progress is known).
xh_mig_progress() { # I NAME
	xh_hactl "$1" --json domains "$2" 2>/dev/null |
		jq -r '.domains[0].migration.progress // empty | "\(.round) \(.bytes_sent)"'
}
# True once NAME's migration shows progress with at least BYTES sent.
xh_mig_streaming() { # I NAME BYTES
	local p
	p=$(xh_mig_progress "$1" "$2")
	[ -n "$p" ] && [ "${p#* }" -ge "$3" ]
}
# One running copy of NAME, running by the state (h1's view), nothing migrating.
xh_settled() { # NAME
	[ "$(xh_domf 1 "$1" state)" = running ] && [ "$(xh_sim_count "$1")" = 1 ]
}
# Begin a slow migration of NAME (host I asks) to host T: the link into T
# is shaped to 40 Mbit/s and the domain dirties faster than that moves, so
# the stream lasts; returns once 4 MiB went over (by host I's view).
xh_mig_begin_slow() { # I NAME T
	xh_shape "$3" 40mbit || { xh_err "cannot shape the link into h$3"; return 1; }
	xh_hactl "$1" migrate "$2" "h$3" --no-wait >/dev/null || return 1
	xh_wait_until 30 "$2 streaming to h$3" xh_mig_streaming "$1" "$2" 4194304
}
# The start of a migration case: N hosts up (xh_fence_up when FENCED is
# "fenced"), one domain NAME of 256 MiB that prefers h1, running there
# once.  Sets XH_MIG_PID to its process on h1.  Fails the case otherwise.
xh_mig_case_up() { # N NAME [fenced]
	if [ "${3:-}" = fenced ]; then
		xh_fence_up "$1" || xh_fail "cluster with fencing did not come up"
	else
		xh_up "$1" || xh_fail "cluster did not come up"
	fi
	xh_hactl 1 domain add "$2" --memory 256 --prefer h1 >/dev/null || xh_fail "add $2"
	xh_wait_until 30 "$2 running on h1" xh_settled "$2" || xh_fail "$2 not running"
	[ "$(xh_domf 1 "$2" host)" = h1 ] || xh_fail "$2 not on h1"
	XH_MIG_PID=$(xh_simpid 1 "$2") || xh_fail "no process of $2 on h1"
}
# After a migration of NAME off h1 was broken before its switch-over: NAME
# runs again by the state within TIMEOUT_S, on h1, as the same process PID
# (resumed, not restarted), and h1's history has the aborted migration.
xh_mig_resumed() { # NAME PID TIMEOUT_S T0_US WHAT
	xh_wait_until "$3" "$1 running again by the state" xh_settled "$1" ||
		xh_fail "$1 did not settle after $5"
	xh_log "settled $(_xh_fmt_us $((XH_WAIT_END_US - $4)))s after $5"
	[ "$(xh_domf 1 "$1" host)" = h1 ] || xh_fail "$1 is not on h1"
	[ "$(xh_simpid 1 "$1")" = "$2" ] ||
		xh_fail "$1's process on h1 changed (restarted, not resumed)"
	local e
	e=$(xh_event 1 migration "aborted")
	[ -n "$e" ] || xh_fail "no aborted migration in the history"
	xh_log "history: $e"
}
