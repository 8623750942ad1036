#!/bin/sh
# `hactl disk` against Debian's sbd on loop devices (TAP output):
#   - `hactl disk init` makes a disk `sbd dump` reads with the same
#     timeouts, slot count and uuid, and `sbd list` works on it
#   - `sbd allocate h2` + `sbd message h2 reset`: `hactl disk dump --json`
#     shows h2's mailbox "reset" (and the text dump too)
#   - `hactl disk message DEV h2 clear`: `sbd list` shows clear
#   - init refuses a disk with an sbd header unless --yes; refuses bad
#     timeouts with hb_timeouts_check's reason; message to an unknown
#     host and dump of a plain sbd disk exit 5
#   - a 4096-byte logical-sector device gets 4096-byte sectors
#
# Run by `make check` from the top build directory (HACTL may override the
# program's path).  Needs root, losetup and sbd: otherwise skipped (exit
# 77).  Every loop device is detached by the name losetup printed; the
# temporary directory is removed on exit.
set -u

HACTL=${HACTL:-./src/hactl/hactl}
SBD=${SBD:-$(command -v sbd 2>/dev/null || echo /usr/sbin/sbd)}

if [ ! -x "$HACTL" ]; then
	echo "test_hactl_disk: missing program $HACTL (run from the build directory)" >&2
	exit 99
fi
if [ ! -x "$SBD" ]; then
	echo "test_hactl_disk: sbd not installed: skipped"
	exit 77
fi
if [ "$(id -u)" != 0 ]; then
	echo "test_hactl_disk: needs root for loop devices: skipped"
	exit 77
fi
if ! command -v losetup >/dev/null 2>&1; then
	echo "test_hactl_disk: no losetup: skipped"
	exit 77
fi
if ! command -v jq >/dev/null 2>&1; then
	echo "test_hactl_disk: no jq: skipped"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xenha-test-hactl-disk.XXXXXX") || exit 99
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

# status DESCRIPTION WANT GOT: an exit status
status() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1 (exit $3, want $2)"
		sed 's/^/#   /' "$tmp/out"
	fi
}

# attach FILE SECTOR_SIZE: a loop device name in $loop, or skip the test
attach() {
	loop=$(losetup -f --show -b "$2" "$1" 2>"$tmp/losetup.err")
	if [ -z "$loop" ]; then
		echo "test_hactl_disk: cannot attach a loop device: skipped"
		sed 's/^/#   /' "$tmp/losetup.err"
		exit 77
	fi
	loops="$loops $loop"
}

# Everything below is bounded: sbd by timeout(1), hactl does no waiting.
run_sbd() {
	timeout 60 "$SBD" "$@" >"$tmp/out" 2>&1
}

run_hactl() {
	timeout 60 "$HACTL" "$@" >"$tmp/out" 2>&1
}

# ---- 512-byte sectors ----
truncate -s 1M "$tmp/d512.img"
attach "$tmp/d512.img" 512
dev=$loop

run_hactl disk init "$dev" --watchdog 2 --loop 1 --allocate 1 --msgwait 4
status "init on $dev" 0 $?
check "init prints what it made" '255 slots, 512-byte sectors, uuid [0-9a-f-]{36}' "$tmp/out"
uuid=$(sed -n 's/.*uuid \([0-9a-f-]*\).*/\1/p' "$tmp/out")

run_sbd -d "$dev" dump
status "sbd dump" 0 $?
check "sbd dump: watchdog 2" '^Timeout \(watchdog\) +: 2$' "$tmp/out"
check "sbd dump: allocate 1" '^Timeout \(allocate\) +: 1$' "$tmp/out"
check "sbd dump: loop 1" '^Timeout \(loop\) +: 1$' "$tmp/out"
check "sbd dump: msgwait 4" '^Timeout \(msgwait\) +: 4$' "$tmp/out"
check "sbd dump: 255 slots" '^Number of slots +: 255$' "$tmp/out"
check "sbd dump: sector size 512" '^Sector size +: 512$' "$tmp/out"
check "sbd dump: our uuid" "^UUID +: $uuid\$" "$tmp/out"
run_sbd -d "$dev" list
status "sbd list on a fresh disk" 0 $?

# sbd allocate sleeps allocate (1 s); message sleeps msgwait (4 s)
run_sbd -d "$dev" -n h1 allocate h2
status "sbd allocate h2" 0 $?
run_sbd -d "$dev" -n h1 message h2 reset
status "sbd message h2 reset" 0 $?
run_hactl disk dump "$dev" --json
status "disk dump --json" 0 $?
jq -r '.slots[] | select(.name == "h2") | "\(.message) \(.from)"' "$tmp/out" >"$tmp/jq" 2>&1
check "dump --json: h2's mailbox holds reset from h1" '^reset h1$' "$tmp/jq"
jq -r '"\(.header.timeout_watchdog) \(.header.timeout_msgwait) \(.header.slots) \(.header.uuid) \(.beats | length)"' \
	"$tmp/out" >"$tmp/jq" 2>&1
check "dump --json: header and no beats" "^2 4 255 $uuid 0\$" "$tmp/jq"
run_hactl --json disk dump "$dev"
jq -r '.slots[0].message' "$tmp/out" >"$tmp/jq" 2>&1
check "hactl --json disk dump (global option)" '^reset$' "$tmp/jq"
run_hactl disk dump "$dev"
check "text dump: h2's mailbox" '^0 +h2 +reset +h1$' "$tmp/out"

run_hactl disk message "$dev" h2 clear --from h3
status "disk message h2 clear" 0 $?
run_sbd -d "$dev" list
check "sbd list: h2 clear from h3" "^0[[:space:]]+h2[[:space:]]+clear[[:space:]]+h3\$" "$tmp/out"
run_hactl disk message "$dev" h2 test
run_sbd -d "$dev" list
check "sbd list: h2 test" "^0[[:space:]]+h2[[:space:]]+test" "$tmp/out"
run_hactl disk message "$dev" nobody reset
status "disk message to a host without a slot: 5" 5 $?
check "... says so" 'no slot for host nobody' "$tmp/out"
run_hactl disk message "$dev" h2 exit
status "disk message exit: usage" 2 $?

run_hactl disk init "$dev"
status "init over an sbd header without --yes: refused" 1 $?
check "... says why" "disk $dev: already has an sbd header; give --yes" "$tmp/out"
run_hactl disk dump --json "$dev"
jq -r '.header.uuid' "$tmp/out" >"$tmp/jq" 2>&1
check "... and left the disk alone" "^$uuid\$" "$tmp/jq"
run_hactl disk init "$dev" --yes --slots 16 --watchdog 3
status "init --yes" 0 $?
run_sbd -d "$dev" dump
check "sbd dump: new slot count" '^Number of slots +: 16$' "$tmp/out"
check "sbd dump: msgwait defaults to 2 x watchdog" '^Timeout \(msgwait\) +: 6$' "$tmp/out"

run_hactl disk init "$dev" --yes --watchdog 5 --msgwait 6
status "init with msgwait < 2 x watchdog: refused" 1 $?
check "... with the reason" 'refused: msgwait must be at least twice the watchdog timeout' "$tmp/out"
run_hactl disk init "$dev" --yes --watchdog 2 --loop 2
status "init with loop >= watchdog: refused" 1 $?
check "... with the reason" 'refused: .*loop' "$tmp/out"
run_hactl disk init "$dev" --yes --sector-size 4096
status "init --sector-size 4096 on a 512-byte device: refused" 1 $?

# a plain sbd disk is not a xenha disk
run_sbd -d "$dev" -1 2 -4 4 create
run_hactl disk dump "$dev"
status "dump of a plain sbd disk: 5" 5 $?
check "... not a xenha disk" "disk $dev: not a xenha disk" "$tmp/out"
run_hactl disk dump "$tmp/none"
status "dump of a missing device: 1" 1 $?
check "... names it and the errno text" "disk $tmp/none: cannot open: No such file or directory" "$tmp/out"

# ---- 4096-byte logical sectors: found with BLKSSZGET ----
truncate -s 4M "$tmp/d4096.img"
attach "$tmp/d4096.img" 4096
dev=$loop
run_hactl disk init "$dev" --slots 8 --watchdog 2 --msgwait 4
status "init on a 4096-byte device" 0 $?
check "... uses 4096-byte sectors" '8 slots, 4096-byte sectors' "$tmp/out"
run_sbd -d "$dev" dump
check "sbd dump: sector size 4096" '^Sector size +: 4096$' "$tmp/out"
run_sbd -d "$dev" -n h1 allocate h1
run_hactl disk dump --json "$dev"
jq -r '"\(.header.sector_size) \(.slots[0].name) \(.slots[0].message)"' "$tmp/out" >"$tmp/jq" 2>&1
check "dump --json reads sbd's slot at 4096" '^4096 h1 clear$' "$tmp/jq"

echo "1..$n"
if [ "$fails" -ne 0 ]; then
	echo "test_hactl_disk: $fails of $n checks failed" >&2
	exit 1
fi
exit 0
