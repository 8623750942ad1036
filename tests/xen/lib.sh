#!/bin/bash
# tests/xen/lib.sh - settings and helpers of the Xen lab (docs/testing.md, "Xen lab").
# Sourced by image.sh, lab.sh and run.sh.  Real Xen 4.17 hosts under QEMU TCG,
# all inside one network namespace; the approach is the one of the shared
# xen-qemu recipe (fast dom0 init, -snapshot image, tgtd with two portals).
#
# Settings (environment):
#   XEN_LAB_DIR  everything the lab writes          (/var/tmp/xenha-xenlab-lab)
#   XEN_LAB_NS   the network namespace               (xhxen)
#   XEN_NET_H/A/B  /24 prefixes: management+corosync, SAN path A, SAN path B
#                (198.18.20, 198.18.21, 198.18.22; only 198.18.0.0/15 is accepted)
#   XEN_HV       hypervisor driver of xenhad in dom0: xen (tests/xen/xen-guest.sh; the default
#                when the build has the xen driver) or sim
#   XENHA_BUILD  the configured build tree whose `make install` goes into dom0
#   XEN_CPU      QEMU's -cpu for the hosts (max,-smap: SMAP kills dom0 under TCG)
#   XEN_XEN_ARGS extra Xen command line (spec-ctrl=eager-fpu: with Xen's lazy FPU
#                switching under TCG dom0's vector registers changed while a domU ran
#                beside it - tests/xen/simd-check.c; docs/testing.md, runs 15-16)
XEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=${XEN_LAB_DIR:-/var/tmp/xenha-xenlab-lab}
NS=${XEN_LAB_NS:-xhxen}
NET_H=${XEN_NET_H:-198.18.20}
NET_A=${XEN_NET_A:-198.18.21}
NET_B=${XEN_NET_B:-198.18.22}
XEN_HV=${XEN_HV:-}    # run.sh picks the default from the build
XEN_CPU=${XEN_CPU:-max,-smap}
XEN_XEN_ARGS=${XEN_XEN_ARGS-spec-ctrl=eager-fpu}
RUN=$LAB/run
SHARE=$LAB/share           # 9p share, mounted on /mnt/xh in every dom0
TGT_PORT=${XEN_TGT_PORT:-7950}   # tgtd control port (its socket is not per namespace)
TGT_IQN=iqn.2026-01.test.xenha:lab
BASE=11                    # host I has the address .(11+I) on every net

die() { echo "${0##*/}: $*" >&2; exit 1; }

for p in "$NET_H" "$NET_A" "$NET_B"; do
	[[ $p =~ ^198\.1[89]\.[0-9]{1,3}$ ]] || die "prefix $p is not inside 198.18.0.0/15"
done
case $LAB in /*/*) ;; *) die "XEN_LAB_DIR must be an absolute path two levels deep" ;; esac

now() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }
ip_of() { echo "$NET_H.$((BASE + $1))"; }   # I -> management address of host xI

alive() { local s; s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$s" ] && [ "$s" != Z ]; }
# ours PID STRING: the process's command line contains STRING (no PID reuse surprise)
ours() { { tr '\0' ' ' < "/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "$2"; }

# stop_pidfile FILE MATCH [KILL]: TERM (or KILL), bounded wait, KILL; only if the PID still matches
stop_pidfile() {
	local pid n
	pid=$(cat "$1" 2>/dev/null) || return 0
	if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && ours "$pid" "$2"; then
		kill -"${3:-TERM}" "$pid" 2>/dev/null
		for ((n = 0; n < 100; n++)); do alive "$pid" || break; sleep 0.1; done
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
		for ((n = 0; n < 50; n++)); do alive "$pid" || break; sleep 0.1; done
	fi
	rm -f "$1"
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qxF "$NS"; }
X() { ip netns exec "$NS" "$@"; }

# ---------------------------------------------------------------- network
# brH/brA/brB in the namespace, .1 on each; taps tap{H,A,B}I for the hosts
net_up() { # N
	mkdir -p "$RUN"
	ns_exists || ip netns add "$NS" || return 1
	X ip link set lo up
	local n a i
	for n in H A B; do
		case $n in H) a=$NET_H ;; A) a=$NET_A ;; B) a=$NET_B ;; esac
		X ip link show br$n >/dev/null 2>&1 || X ip link add br$n type bridge
		X ip addr replace "$a.1/24" dev br$n
		X ip link set br$n up
		for ((i = 0; i < $1; i++)); do
			X ip link show tap$n$i >/dev/null 2>&1 || X ip tuntap add dev tap$n$i mode tap
			X ip link set tap$n$i master br$n up
		done
	done
}
net_down() { ! ns_exists || ip netns del "$NS"; }

# -------------------------------------------------------------------- SAN
# userspace tgtd in the namespace on 0.0.0.0:3260 = two portals (.1 of A and B);
# LUN 1 = data (1 GiB), LUN 2 = heartbeat (16 MiB), sparse files, fixed WWIDs
# 360000000000000000e00000000010001 / ...0002 (aliases data / hb in dom0)
TGT="tgtadm -C $TGT_PORT"
san_up() {
	mkdir -p "$RUN/san"
	truncate -s 1G "$RUN/san/data.img"
	truncate -s 16M "$RUN/san/hb.img"
	setsid ip netns exec "$NS" tgtd -f -C "$TGT_PORT" </dev/null >"$RUN/tgtd.log" 2>&1 &
	echo $! > "$RUN/tgtd.pid"
	local n
	for ((n = 0; n < 50; n++)); do $TGT --op show --mode sys >/dev/null 2>&1 && break; sleep 0.1; done
	$TGT --lld iscsi --op new --mode target --tid 1 -T "$TGT_IQN" &&
	$TGT --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$RUN/san/data.img" &&
	$TGT --lld iscsi --op new --mode logicalunit --tid 1 --lun 2 -b "$RUN/san/hb.img" &&
	$TGT --lld iscsi --op bind --mode target --tid 1 -I ALL
}
san_down() { # tgtd ignores SIGTERM: ask it through tgtadm, then SIGKILL by PID
	local pid
	pid=$(cat "$RUN/tgtd.pid" 2>/dev/null) || return 0
	if alive "$pid" && ours "$pid" "tgtd -f -C $TGT_PORT"; then
		$TGT --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1
		$TGT --op delete --mode system >/dev/null 2>&1
	fi
	stop_pidfile "$RUN/tgtd.pid" "tgtd -f -C $TGT_PORT" KILL
}

# ------------------------------------------------------------------ hosts
# host I = QEMU (TCG) running Xen 4.17 + the Debian dom0, NICs n0 (mgmt),
# n1 (SAN A), n2 (SAN B); serial console log $RUN/xI.console, HMP $RUN/xI.mon
host_boot() { # I NHOSTS
	local i=$1 ip=$((BASE + $1))
	rm -f "$RUN/x$i.console" "$RUN/x$i.mon" "$RUN/x$i.pid"
	# -cpu: XEN_CPU (above); -no-reboot: a Xen reset ends QEMU
	TMPDIR=$RUN setsid ip netns exec "$NS" qemu-system-x86_64 -name "$NS-x$i" \
		-accel tcg,tb-size=256 -cpu "$XEN_CPU" -smp 1 -m "${XEN_HOST_MEM:-1024}" \
		-nodefaults -display none -no-reboot -snapshot -pidfile "$RUN/x$i.pid" \
		-chardev "file,id=s0,path=$RUN/x$i.console" -serial chardev:s0 \
		-monitor "unix:$RUN/x$i.mon,server=on,wait=off" \
		-kernel "$LAB/img/xen" \
		-append "dom0_mem=512M,max:512M dom0_max_vcpus=1 console=com1 com1=115200,8n1 noreboot bootscrub=0 $XEN_XEN_ARGS" \
		-initrd "$LAB/img/vmlinuz root=/dev/vda ro console=hvc0 net.ifnames=0 init=/sbin/xh-init xid=$i xn=$2 xh=$NET_H xa=$NET_A xb=$NET_B,$LAB/img/initrd" \
		-drive "file=$LAB/img/dom0.img,if=virtio,format=raw,cache=unsafe" \
		-virtfs "local,path=$SHARE,mount_tag=xh,security_model=none,id=xh" \
		-netdev tap,id=n0,ifname=tapH$i,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=52:54:00:20:00:$ip \
		-netdev tap,id=n1,ifname=tapA$i,script=no,downscript=no -device virtio-net-pci,netdev=n1,mac=52:54:00:20:01:$ip \
		-netdev tap,id=n2,ifname=tapB$i,script=no,downscript=no -device virtio-net-pci,netdev=n2,mac=52:54:00:20:02:$ip \
		</dev/null >"$RUN/x$i.qemu.log" 2>&1 &
	disown   # no job notice when it is killed (power off)
	local n
	for ((n = 0; n < 100; n++)); do host_pid "$i" >/dev/null && return 0; sleep 0.1; done
	cat "$RUN/x$i.qemu.log" >&2
	return 1
}
host_pid() { local p; p=$(cat "$RUN/x$1.pid" 2>/dev/null) && alive "$p" && ours "$p" "$RUN/x$1.pid" && echo "$p"; }
host_ready() { grep -aq 'XH-READY' "$RUN/x$1.console" 2>/dev/null; }
host_kill() { stop_pidfile "$RUN/x$1.pid" "$RUN/x$1.pid" KILL; }   # power off, at once
host_stop() { stop_pidfile "$RUN/x$1.pid" "$RUN/x$1.pid" TERM; }
mon() { # I 'HMP command'
	printf '%s\n' "$2" | timeout 10 socat - "UNIX-CONNECT:$RUN/x$1.mon" >/dev/null 2>&1
}
# on I 'command': a shell command in dom0 of xI over ssh (management net)
on() {
	ip netns exec "$NS" timeout "${ON_TIMEOUT:-120}" ssh -i "$LAB/img/id_ed25519" -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o ConnectTimeout=15 "root@$(ip_of "$1")" "$2"
}

# wait_for TIMEOUT_S DESC CMD...: poll CMD every 2 s, bounded in time and count;
# WAITED holds the seconds it took
wait_for() {
	local t=$1 desc=$2 s n max
	shift 2
	s=$(now) max=$((t / 2 + 1))
	for ((n = 0; n < max; n++)); do
		if "$@"; then WAITED=$(since "$s"); return 0; fi
		[ "$(echo "$(now) - $s > $t" | bc)" = 1 ] && break
		sleep 2
	done
	WAITED=$(since "$s")
	echo "  timeout after ${WAITED}s: $desc" >&2
	return 1
}
