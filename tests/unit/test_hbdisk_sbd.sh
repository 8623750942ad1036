#!/bin/sh
# The sbd compatibility test of the heartbeat-disk codec: Debian's own
# sbd must read what hb_disk_init_image writes, and our decoders must
# read what sbd writes, at both sector sizes (a loop device with
# 512- and 4096-byte logical sectors).
#   - an image from hbdisk_tool init (4 slots, named) on a loop device:
#     `sbd dump` shows our timeouts, slot count and uuid, `sbd list` our
#     slot names; `sbd message NAME test|reset|exit` lands in that slot's
#     mailbox where hb_msg_decode reads it; sbd writes nothing outside
#     its area (the xenha region is byte-identical afterwards) and our
#     heartbeats still decode
#   - `sbd -4 20 -1 10 create` on a fresh loop device decodes with
#     hb_header_decode with those values; `sbd allocate` + `message`
#     decode with hb_slot_decode / hb_msg_decode; `sbd -1 10 create`
#     (msgwait left at sbd's default) is refused by hb_timeouts_check
#
# Run by `make check` from the top build directory (HBDISK_TOOL may
# override the tool's path).  Needs root, losetup and sbd: otherwise it
# is skipped (exit 77).  Every loop device is detached by the name
# losetup printed; the temporary directory is removed on exit.
set -u

TOOL=${HBDISK_TOOL:-./tests/unit/hbdisk_tool}
SBD=${SBD:-$(command -v sbd 2>/dev/null || echo /usr/sbin/sbd)}

if [ ! -x "$TOOL" ]; then
	echo "test_hbdisk_sbd: missing program $TOOL (run from the build directory)" >&2
	exit 99
fi
if [ ! -x "$SBD" ]; then
	echo "test_hbdisk_sbd: sbd not installed: skipped"
	exit 77
fi
if [ "$(id -u)" != 0 ]; then
	echo "test_hbdisk_sbd: needs root for loop devices: skipped"
	exit 77
fi
if ! command -v losetup >/dev/null 2>&1; then
	echo "test_hbdisk_sbd: no losetup: skipped"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xenha-test-hbdisk.XXXXXX") || exit 99
loops=""
cleanup() {
	for l in $loops; do
		losetup -d "$l" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM HUP

fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

# check DESCRIPTION PATTERN FILE: FILE has a line matching PATTERN (grep -E)
check() {
	if grep -E -q -- "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1"
		sed 's/^/#   /' "$3"
	fi
}

# attach FILE SECTOR_SIZE: a loop device name in $loop, or skip the test
attach() {
	loop=$(losetup -f --show -b "$2" "$1" 2>"$tmp/losetup.err")
	if [ -z "$loop" ]; then
		echo "test_hbdisk_sbd: cannot attach a loop device: skipped"
		sed 's/^/#   /' "$tmp/losetup.err"
		exit 77
	fi
	loops="$loops $loop"
}

detach() {
	losetup -d "$1"
	rest=""
	for l in $loops; do
		[ "$l" = "$1" ] || rest="$rest $l"
	done
	loops=$rest
}

# sbd with a bounded run time; output in $tmp/out
run_sbd() {
	timeout 60 "$SBD" "$@" >"$tmp/out" 2>&1
}

# sectors DEV SECTOR_SIZE FIRST COUNT: checksum of a sector range
sectors() {
	dd if="$1" bs="$2" skip="$3" count="$4" iflag=direct status=none | cksum
}

for ss in 512 4096; do
	# ---- sbd reads our image ----
	# watchdog 2, loop 1, msgwait 4: sbd's `message` sleeps msgwait
	img="$tmp/xenha-$ss.img"
	if "$TOOL" init "$img" "$ss" 4 2 1 1 4 alpha bravo charlie >"$tmp/init" 2>&1; then
		ok "$ss: hbdisk_tool init"
	else
		not_ok "$ss: hbdisk_tool init"
		sed 's/^/#   /' "$tmp/init"
		continue
	fi
	attach "$img" "$ss"
	dev=$loop

	run_sbd -d "$dev" dump
	check "$ss: sbd dump: version 2.1" '^Header version +: 2\.1$' "$tmp/out"
	check "$ss: sbd dump: uuid" '^UUID +: 78656e68-612d-4862-8469-736b2d747374$' "$tmp/out"
	check "$ss: sbd dump: 4 slots" '^Number of slots +: 4$' "$tmp/out"
	check "$ss: sbd dump: sector size" "^Sector size +: $ss\$" "$tmp/out"
	check "$ss: sbd dump: watchdog" '^Timeout \(watchdog\) : 2$' "$tmp/out"
	check "$ss: sbd dump: allocate" '^Timeout \(allocate\) : 1$' "$tmp/out"
	check "$ss: sbd dump: loop" '^Timeout \(loop\) +: 1$' "$tmp/out"
	check "$ss: sbd dump: msgwait" '^Timeout \(msgwait\) +: 4$' "$tmp/out"

	run_sbd -d "$dev" list
	check "$ss: sbd list: alpha in slot 0" '^0	alpha	clear	$' "$tmp/out"
	check "$ss: sbd list: bravo in slot 1" '^1	bravo	clear	$' "$tmp/out"
	check "$ss: sbd list: charlie in slot 2" '^2	charlie	clear	$' "$tmp/out"
	if [ "$(wc -l <"$tmp/out")" -eq 3 ]; then
		ok "$ss: sbd list: slot 3 free"
	else
		not_ok "$ss: sbd list: slot 3 free"
		sed 's/^/#   /' "$tmp/out"
	fi

	# sbd's area is 2*4+1 = 9 sectors; the xenha region follows
	region_before=$(sectors "$dev" "$ss" 9 65)

	for m in "bravo test" "charlie reset" "alpha exit"; do
		set -- $m
		if run_sbd -d "$dev" -n "sender-$ss" message "$1" "$2"; then
			ok "$ss: sbd message $1 $2"
		else
			not_ok "$ss: sbd message $1 $2"
			sed 's/^/#   /' "$tmp/out"
		fi
	done
	"$TOOL" msg "$dev" "$ss" 1 >"$tmp/msg1" 2>&1
	check "$ss: hb_msg_decode reads sbd's test" "^slot=1 sector=4 type=test from=sender-$ss\$" "$tmp/msg1"
	"$TOOL" msg "$dev" "$ss" 2 >"$tmp/msg2" 2>&1
	check "$ss: hb_msg_decode reads sbd's reset" "^slot=2 sector=6 type=reset from=sender-$ss\$" "$tmp/msg2"
	"$TOOL" msg "$dev" "$ss" 0 >"$tmp/msg0" 2>&1
	check "$ss: hb_msg_decode reads sbd's exit" "^slot=0 sector=2 type=exit from=sender-$ss\$" "$tmp/msg0"
	"$TOOL" msg "$dev" "$ss" 3 >"$tmp/msg3" 2>&1
	check "$ss: slot 3 mailbox still clear" '^slot=3 sector=8 type=clear from=$' "$tmp/msg3"
	run_sbd -d "$dev" list
	check "$ss: sbd list shows the reset" "^2	charlie	reset	sender-$ss\$" "$tmp/out"

	# sbd refuses to message a name it has no slot for
	if run_sbd -d "$dev" -n "sender-$ss" message nobody exit; then
		not_ok "$ss: sbd message to an unknown name fails"
	else
		ok "$ss: sbd message to an unknown name fails"
	fi

	region_after=$(sectors "$dev" "$ss" 9 65)
	if [ "$region_before" = "$region_after" ]; then
		ok "$ss: sbd wrote nothing in the xenha region"
	else
		not_ok "$ss: sbd wrote nothing in the xenha region"
	fi
	"$TOOL" header "$dev" "$ss" >"$tmp/hdr" 2>&1
	check "$ss: header still ours" "^version=2\\.1 slots=4 sector_size=$ss watchdog=2 allocate=1 loop=1 msgwait=4 uuid=78656e68-612d-4862-8469-736b2d747374 timeouts=ok\$" "$tmp/hdr"
	"$TOOL" region "$dev" "$ss" >"$tmp/region" 2>&1
	check "$ss: region descriptor decodes" '^region=9 beat_first=10 beat_count=64 lease_first=74 lease_count=0$' "$tmp/region"
	"$TOOL" beat "$dev" "$ss" 2 >"$tmp/beat" 2>&1
	check "$ss: heartbeat of node 2 decodes" '^nodeid=2 name=bravo counter=1001 liveset=0x7 quorate=1 paths=2/2$' "$tmp/beat"
	"$TOOL" beat "$dev" "$ss" 4 >"$tmp/beat" 2>&1
	check "$ss: heartbeat of node 4 never written" '^error=beat rc=-61 ' "$tmp/beat"
	detach "$dev"

	# ---- we read sbd's disk ----
	raw="$tmp/sbd-$ss.img"
	# sbd's 255 slots take 511 sectors; leave room after them, where
	# our region descriptor would be
	truncate -s $((1024 * ss)) "$raw"
	attach "$raw" "$ss"
	dev=$loop
	if run_sbd -d "$dev" -4 20 -1 10 create; then
		ok "$ss: sbd create"
	else
		not_ok "$ss: sbd create"
		sed 's/^/#   /' "$tmp/out"
	fi
	"$TOOL" header "$dev" "$ss" >"$tmp/hdr" 2>&1
	check "$ss: hb_header_decode reads sbd's header" "^version=2\\.1 slots=255 sector_size=$ss watchdog=10 allocate=2 loop=1 msgwait=20 uuid=[0-9a-f-]{36} timeouts=ok\$" "$tmp/hdr"
	uuid=$(sed -n 's/.* uuid=\([0-9a-f-]*\) .*/\1/p' "$tmp/hdr")
	run_sbd -d "$dev" dump
	check "$ss: same uuid as sbd dump" "^UUID +: $uuid\$" "$tmp/out"
	"$TOOL" region "$dev" "$ss" >"$tmp/region" 2>&1
	check "$ss: a plain sbd disk has no xenha region" '^error=region rc=-61 ' "$tmp/region"
	"$TOOL" slot "$dev" "$ss" 254 >"$tmp/slot" 2>&1
	check "$ss: sbd's last slot decodes, free" '^slot=254 sector=509 in_use=0 name=$' "$tmp/slot"
	"$TOOL" msg "$dev" "$ss" 254 >"$tmp/msg" 2>&1
	check "$ss: sbd's last mailbox decodes, clear" '^slot=254 sector=510 type=clear from=$' "$tmp/msg"

	# sbd's msgwait default is twice its built-in watchdog default, not
	# twice the -1 given: hb_timeouts_check must refuse that header
	run_sbd -d "$dev" -1 10 create
	"$TOOL" header "$dev" "$ss" >"$tmp/hdr" 2>&1
	check "$ss: sbd -1 10 create: unsafe msgwait refused" '^version=2\.1 slots=255 .* watchdog=10 .* msgwait=[0-9]+ .* timeouts=msgwait must be at least twice the watchdog timeout$' "$tmp/hdr"
	run_sbd -d "$dev" -4 20 -1 10 create

	# sbd allocate sleeps the allocate timeout (2 s) per slot
	run_sbd -d "$dev" -n node-a allocate node-a
	run_sbd -d "$dev" -n node-b allocate node-b
	run_sbd -d "$dev" -n node-a message node-b exit
	"$TOOL" slot "$dev" "$ss" 1 >"$tmp/slot" 2>&1
	check "$ss: hb_slot_decode reads sbd's allocation" '^slot=1 sector=3 in_use=1 name=node-b$' "$tmp/slot"
	"$TOOL" msg "$dev" "$ss" 1 >"$tmp/msg" 2>&1
	check "$ss: hb_msg_decode reads sbd's exit" '^slot=1 sector=4 type=exit from=node-a$' "$tmp/msg"
	detach "$dev"
done

echo "1..$n"
if [ "$fails" -ne 0 ]; then
	echo "test_hbdisk_sbd: $fails of $n checks failed" >&2
	exit 1
fi
exit 0
