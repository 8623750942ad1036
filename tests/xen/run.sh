#!/bin/bash
# tests/xen/run.sh - the Xen lab, end to end (`make check-xen`; docs/testing.md, "Xen lab").
# Three real Xen 4.17 hosts (QEMU TCG) in network namespace $XEN_LAB_NS, a tgtd SAN with two
# portals, dm-multipath, corosync and the xenha build under test in every dom0; then checks
# and faults.  Each check prints PASS or FAIL with the seconds it took; the last line is
# "xen: N passed, N failed".  Everything started here is stopped by PID on exit (any exit);
# XEN_KEEP=1 leaves the lab running (tear it down with: tests/xen/run.sh down).
# Needs root, XENHA_BUILD (a configured build tree), and: qemu-system-x86 tgt socat jq bc
# debootstrap openssh-client.  Settings: tests/xen/lib.sh.  XEN_HV=xen (the default when
# the build has the xen driver) runs xen-guest.sh's scenarios a, b, e, c with an HA PV
# guest; XEN_HV=sim runs sim domains, a hand-started guest (XEN_GUEST=0 skips it) and c.
# XEN_SCENARIO_C=0 skips the power-off in either mode.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
N=3
npass=0 nfail=0
T0=$(now)

teardown() {
	local i
	stop_pidfile "$RUN/http-poll.pid" poller   # xen-guest.sh's HTTP poller
	stop_pidfile "$RUN/b-tcpdump.pid" "tcpdump -i brH"   # its XEN_B_CAPTURE capture
	for ((i = 0; i < N; i++)); do host_stop "$i"; done
	san_down
	net_down
	rm -rf "$RUN/san"
}
if [ "${1:-}" = down ]; then teardown; exit 0; fi

# check NAME START_TIME CMD...: run CMD, print PASS/FAIL NAME (seconds since START_TIME)
check() {
	local name=$1 s=$2
	shift 2
	if "$@"; then
		npass=$((npass + 1)); echo "PASS $name ($(since "$s") s)"
	else
		nfail=$((nfail + 1)); echo "FAIL $name ($(since "$s") s)"
	fi
}
on_all() { local i; for ((i = 0; i < N; i++)); do [ "${SKIP:-}" = "$i" ] || on "$i" "$1" || return 1; done; }
summary() {
	echo "xen: $npass passed, $nfail failed ($(since "$T0") s; logs: $RUN, dom0 logs: $SHARE/log)"
}
finish() {
	local rc=$?
	trap - EXIT INT TERM
	[ "$rc" = 0 ] || [ "$nfail" -gt 0 ] || nfail=$((nfail + 1))
	if [ "${XEN_KEEP:-0}" = 1 ]; then echo "XEN_KEEP=1: lab left running; stop it with: $0 down"
	else teardown >/dev/null 2>&1; fi
	summary
	# in an EXIT trap a bare `exit` keeps the script's status: say it
	[ "$nfail" = 0 ] && exit 0
	exit 1
}

[ "$(id -u)" = 0 ] || die "run as root"
for t in qemu-system-x86_64 tgtd socat jq bc ssh debootstrap cpio; do command -v $t >/dev/null ||
	die "missing $t: apt-get install qemu-system-x86 tgt socat jq bc openssh-client debootstrap cpio"; done
[ -n "${XENHA_BUILD:-}" ] && [ -f "$XENHA_BUILD/Makefile" ] || die "set XENHA_BUILD to a configured build tree"
have_xen() { grep -q '^#define HAVE_XEN 1' "$XENHA_BUILD/config.h" 2>/dev/null; }
if [ -z "$XEN_HV" ]; then
	XEN_HV=sim
	have_xen && XEN_HV=xen
fi
case $XEN_HV in
sim) ;;
xen) have_xen || die "XEN_HV=xen: $XENHA_BUILD has no xen driver (configure found no libxen-dev)" ;;
*) die "XEN_HV must be xen or sim" ;;
esac
echo "xen lab: xenhad's hypervisor driver: $XEN_HV"
mkdir -p "$LAB"
exec 9>"$LAB/lock"
flock -n 9 || die "another run holds $LAB/lock"
ns_exists && die "namespace $NS exists (a lab is running?): $0 down"
trap finish EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ build
s=$(now)
"$XEN_DIR/image.sh" || exit 1
echo "figure: dom0 image ready in $(since "$s") s"
s=$(now)
rm -rf "$SHARE" && mkdir -p "$SHARE"
make -C "$XENHA_BUILD" -s install DESTDIR="$SHARE/dest" >"$LAB/install.log" 2>&1 ||
	{ tail -20 "$LAB/install.log"; die "make install failed"; }
dest_path() { local f; f=$(find "$SHARE/dest" -name "$1" -type f | head -1); [ -n "$f" ] && echo "${f#"$SHARE/dest"}"; }
{
	echo "XENHAD=$(dest_path xenhad)"; echo "FENCED=$(dest_path xenha-fenced)"
	echo "HACTL=$(dest_path hactl)"; echo "SIMDOM=$(dest_path xenha-simdom)"
	echo "CONFDIR=$(dirname "$(dest_path xenha.conf.example)")"
} > "$SHARE/paths.env"
grep -q '=$' "$SHARE/paths.env" && { cat "$SHARE/paths.env"; die "make install did not install every program"; }
"$SHARE/dest$(dest_path hactl)" keygen -f "$SHARE/authkey" >/dev/null || die "hactl keygen failed"
echo "figure: xenha installed from $XENHA_BUILD into the share in $(since "$s") s"

# ---------------------------------------------------------------- the lab
s=$(now)
net_up $N && san_up || die "network or SAN did not come up"
for ((i = 0; i < N; i++)); do host_boot $i $N || die "QEMU for x$i did not start"; done
all_ready() { local i; for ((i = 0; i < N; i++)); do host_ready $i || return 1; done; }
check "$N hosts booted (Xen, dom0, SAN login, corosync started)" "$s" wait_for 900 "hosts ready" all_ready
for ((i = 0; i < N; i++)); do grep -a 'XH-' "$RUN/x$i.console" | tr '\r\n' '  ' | sed "s/^/  x$i: /"; echo; done
all_ready || exit 1
echo "  Xen: -cpu $XEN_CPU, '$XEN_XEN_ARGS';$(grep -a -m1 'Support for PV VMs' "$RUN/x0.console" | tr -d '\r' | sed 's/^(XEN) *//; s/^/ /')"

s=$(now)
quorate() { on_all 'corosync-quorumtool -s | grep -q "^Nodes: *3$" && corosync-quorumtool -s | grep -q "^Quorate: *Yes"'; }
check "corosync: $N members, quorate on every host" "$s" wait_for 120 "corosync" quorate

s=$(now)
# paths_ok [N_EXPECTED]: both maps (data, hb) have that many active ready paths on every host
paths_ok() { on_all "for m in data hb; do [ \$(multipathd show paths raw format '%m %t %T' | grep -c \"^\$m active ready\") = ${1:-2} ] || exit 1; done"; }
check "multipath: 2 active paths to each LUN (data, hb) on every host" "$s" wait_for 60 "paths" paths_ok

# ---------------------------------------------------------------- xenha
s=$(now)
xenha_up() {
	on 0 'hactl disk init /dev/mapper/hb --slots 16 --watchdog 10 --msgwait 30 --yes >/dev/null' || return 1
	on_all "xh-xenha conf $XEN_HV && XH_TLS_KEYLOG=${XEN_B_CAPTURE:-0} xh-xenha xenhad" || return 1
	wait_for 120 "xenhad synced" synced || return 1
	on_all 'xh-xenha fenced' || return 1
	wait_for 120 "fenced armed" armed
}
synced() {
	on_all 'hactl --json status' 2>/dev/null | jq -se 'length == 3 and all(.[];
		(.cluster.members | if type == "array" then length else . end) == 3
		and .cluster.quorate == true and .local.synced == true)' >/dev/null
}
armed() { on_all 'hactl --json fence status' 2>/dev/null | jq -se 'length == 3 and all(.[]; .armed == true and .petting == true and .watchdog == "/dev/watchdog")' >/dev/null; }
check "xenha: disk init, xenhad ($XEN_HV) synced with 3 members, fenced armed on /dev/watchdog" "$s" xenha_up
for ((i = 0; i < N; i++)); do
	echo "  x$i: $(on $i 'echo "watchdog driver $(cat /sys/class/watchdog/watchdog0/identity 2>/dev/null);"; hactl fence status | head -2' | tr '\n' ' ')"
done

if [ "$XEN_HV" = sim ]; then
	s=$(now)
	on 0 "for i in 0 1 2; do hactl domain add d\$i --memory 64 --prefer x\$i >/dev/null || exit 1; done" || true
	running() {
		on 0 'hactl --json domains' 2>/dev/null | jq -e --argjson n "$1" '(.domains | length) == 3 and
			([.domains[] | select(.state == "running")] | length) == $n' >/dev/null
	}
	check "3 HA sim domains running, one per host" "$s" wait_for 120 "domains" running 3
	on 0 'hactl domains' | sed 's/^/  /'
fi

# ------------------------------------------- scenario d: one SAN path cut
hist() { on 0 'hactl --json history' | jq -c '[(.events | length), (.events | last | .seq)]'; }
failed_path() { on 1 "multipathd show paths raw format '%m %t' | grep -q '^hb failed' && multipathd show paths raw format '%m %t' | grep -q '^data failed'"; }
petting() { on 1 'hactl --json fence status' | jq -e '.armed == true and .petting == true' >/dev/null; }
s=$(now)
h0=$(hist)
mon 1 'set_link n1 off'
check "d: x1 SAN path A cut -> multipath fails both maps over to path B" "$s" wait_for 90 "path failed" failed_path
echo "figure: path marked failed ${WAITED} s after the cut"
sleep 10
s2=$(now)
check "d: x1 keeps petting its watchdog on path B" "$s2" petting
on 1 'hactl fence status | sed -n 1,3p' | sed 's/^/  /'
mon 1 'set_link n1 on'
s2=$(now)
check "d: path A restored -> multipath reinstates it on x1" "$s2" wait_for 90 "path back" paths_ok
echo "figure: path reinstated ${WAITED} s after link up"
h1=$(hist)
nofence() { [ "$h0" = "$h1" ] && on 0 'hactl --json nodes' | jq -e 'all(.nodes[]; .fence == "none")' >/dev/null; }
check "d: no HA action (history $h0 -> $h1), no fence" "$s" nofence
check "d: still 3 synced members, every fenced armed" "$s" synced
neverstopped() { on 1 '! grep -q "stopped petting" /var/log/xenha/fenced.log'; }
check "d: x1's fenced never stopped petting during the cut (fenced.log)" "$s" neverstopped
on 1 'grep -iE "disk|alert" /var/log/xenha/fenced.log | tail -4' | sed 's/^/  x1 fenced.log: /'

# ------------------------------- a PV guest serving HTTP, started by hand (sim driver only)
if [ "$XEN_HV" = sim ] && [ "${XEN_GUEST:-1}" = 1 ]; then
	s=$(now)
	gip=$NET_H.50
	on 0 "xl create /root/domu/web.cfg 'extra=\"console=hvc0 xip=$gip\"' >/dev/null 2>&1" || true
	http() { X timeout 10 wget -q -T 5 -O- "http://$gip/" 2>/dev/null | grep -q "xenha lab guest"; }
	check "guest: PV guest on x0 (vif on xenbr0 over eth0) answers HTTP from the namespace" "$s" wait_for 180 "http" http
	echo "figure: guest answered HTTP ${WAITED} s after xl create returned"
	on 0 'xl list' | sed 's/^/  /'
	on 0 'xl destroy web' || true
fi

# ---------------------- the xen driver: an HA PV guest, scenarios a, b, e, c
if [ "$XEN_HV" = xen ]; then
	. "$XEN_DIR/xen-guest.sh"
	exit 0
fi

# --------------------------------------- scenario c: one host powered off
if [ "${XEN_SCENARIO_C:-1}" = 1 ]; then
	s=$(now)
	host_kill 2
	SKIP=2
	confirmed() { on 0 'hactl --json history' | jq -e 'any(.events[]; .type == "fence-confirmed" and (.host == "x2" or ((.text // "") | contains("x2"))))' >/dev/null; }
	check "c: x2 powered off -> survivors confirm it fenced" "$s" wait_for 180 "x2 confirmed" confirmed
	echo "figure: x2 confirmed fenced ${WAITED} s after power-off"
	on 0 "hactl history | grep -E 'x2' | tail -5" | sed 's/^/  /'
	moved() { on 0 'hactl --json domains' | jq -e '[.domains[] | select(.state == "running" and .host != "x2")] | length == 3' >/dev/null; }
	check "c: x2's domain runs again on a survivor" "$s" wait_for 120 "d2 restarted" moved
	echo "figure: d2 running again ${WAITED} s after the confirmation"
	# never two copies: count the sim domain processes on the survivors (x2 is off)
	copies() {
		local p
		p=$(on_all 'for f in /proc/[0-9]*/cmdline; do tr "\0" " " 2>/dev/null < $f; echo; done | grep -E "^(/[^ ]*/)?xenha-simdom --name " | sed "s/.*--name \([^ ]*\).*/\1/"') || return 1
		echo "  sim domain processes on x0+x1: $(echo "$p" | sort | uniq -c | tr '\n' ' ')"
		[ "$(echo "$p" | sort | uniq -c | awk '$1 == 1' | wc -l)" = 3 ] && [ "$(echo "$p" | wc -l)" = 3 ]
	}
	check "c: every domain has exactly one process" "$s" copies
	on 0 'hactl domains' | sed 's/^/  /'
fi
exit 0
