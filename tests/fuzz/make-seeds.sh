#!/bin/sh
# Regenerate the seed corpora in tests/fuzz/corpus/ from the golden
# vectors in tests/data/, the example configuration and the IPC texts
# below.  Run from anywhere; it rewrites tests/fuzz/corpus/ only.
# The leading byte of wire and hbdisk seeds is the target's mode byte
# (see the comments at the top of fuzz_wire.c and fuzz_hbdisk.c).
# shellcheck disable=SC2059,SC2086 # byte escapes and word lists on purpose
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
data=$top/tests/data
c=$here/corpus

rm -rf "$c"
mkdir -p "$c/wire" "$c/hbdisk" "$c/config" "$c/ipcreq" "$c/apply"

# prefix FILE MODE OUT: write the mode byte then FILE to OUT
prefix() {
	{ printf "\\$(printf %03o "$2")"; cat "$1"; } >"$3"
}

# ---- wire: decoder chosen by type; sealed (mode | 8) and raw ----
for f in "$data"/wire_*.bin; do
	b=$(basename "$f" .bin)
	case $b in
	wire_cmd_*) sel=1 ;;
	wire_offer*) sel=2 ;;
	wire_chunk*) sel=3 ;;
	wire_snapshot*) sel=4 ;;
	*) continue ;;
	esac
	prefix "$f" $((sel | 8)) "$c/wire/$b"
done
for f in "$data"/wire_offer.bin "$data"/wire_chunk.bin "$data"/wire_snapshot_small.bin \
	"$data"/wire_cmd_domain_add.bin; do
	prefix "$f" 5 "$c/wire/all-$(basename "$f" .bin)"
done

# ---- hbdisk: one decoder per vector, sector size from the file ----
for f in "$data"/hbdisk_*.bin; do
	b=$(basename "$f" .bin)
	case $b in
	*image*) continue ;;
	*header*) sel=0 ;;
	*slot*) sel=1 ;;
	*msg*) sel=2 ;;
	*region*) sel=3 ;;
	*beat*) sel=4 ;;
	*) continue ;;
	esac
	size=$(wc -c <"$f")
	ss=0
	[ "$size" -eq 4096 ] && ss=8
	prefix "$f" $((sel | ss | 32)) "$c/hbdisk/$b"
done
# a heartbeat in raw mode (any length) through every decoder
prefix "$data/hbdisk_beat_512.bin" $((5 | 16)) "$c/hbdisk/raw-beat-all"

# ---- config: the example file and a few small ones ----
cp "$top/etc/xenha.conf" "$c/config/example.conf"
printf '[node]\nname = h1\nhypervisor = sim\nstate_dir = /var/lib/xenha\nmem_reserved_mb = 0\n' \
	>"$c/config/node.conf"
printf '[node]\nhypervisor = xen\ndom_overhead_mb = 16\nstart_timeout_ms = 100\nstop_timeout_ms = 3600000\n[cluster]\nhistory = 100000\n' \
	>"$c/config/xen.conf"
printf '[sim]\nimage_dir = /srv/images\nrun_dir = /run/xenha/sim\nsimdom = /usr/libexec/xenha/xenha-simdom\nmemory_mb = 64\nhold_max_mb = 0\ndirty_kib_s = 1048576\nrecord_ms = 1\n' \
	>"$c/config/sim.conf"
printf '[log]\nsyslog = no\nfile = /var/log/xenha.log ; comment\ndebug = yes\n# end\n' \
	>"$c/config/log.conf"
printf '[node]\nname = h1\nname = h2\n' >"$c/config/dup-key.conf"
printf '[nodes]\nx=1\n' >"$c/config/bad-section.conf"
printf 'key = outside\n' >"$c/config/no-section.conf"

# ---- ipcreq: one request per op, and responses ----
i=0
while IFS= read -r line; do
	i=$((i + 1))
	printf '%s' "$line" >"$c/ipcreq/$(printf %02d $i).json"
done <<'JSON'
{"op":"status"}
{"op":"nodes"}
{"op":"domains"}
{"op":"domains","limit":1000,"offset":2000}
{"op":"domains","name":"web1"}
{"op":"history","limit":50}
{"op":"domain-add","def":{"name":"web1","memory_mb":2048,"priority":10,"restart":"on-crash","max_restarts":3,"max_relocations":2,"preferred":["h1","h2"],"avoided":["h3"],"group":"web","xlcfg":"name = \"web1\"\nmemory = 2048\n","start":false}}
{"op":"domain-add","def":{"name":"db1"}}
{"op":"domain-remove","name":"web1"}
{"op":"domain-set","name":"web1","def":{"memory_mb":4096,"restart":"never","preferred":[],"xlcfg":""}}
{"op":"domain-start","name":"web1"}
{"op":"domain-stop","name":"web1"}
{"op":"fence-confirm","name":"h2"}
{"op":"node-flags","name":"h2","standby":true}
{"op":"node-flags","name":"h2","standby":false,"maintenance":true}
{"rc":0,"data":{"domains":[{"name":"web1","state":"running"}]}}
{"rc":-16,"error":"domain web1: has an owner","data":null}
{"op":"disarm","for_ms":600000}
JSON

# ---- apply: record bytes as fuzz_apply.c reads them ----
# bytes "0 1 2" -> file
bytes() {
	out=$1
	shift
	: >"$out"
	for b in "$@"; do
		printf "\\$(printf %03o "$b")" >>"$out"
	done
}
hello="0 0 0 7 0 0 3 0  0 0 1 7 0 0 3 0  0 0 2 7 0 0 3 0"
members3="0 1 7"
adds="0 2 0 0 3 10 0 3 3 0 0 0 1  0 2 1 1 1 5 1 3 3 1 1 0 1 1  0 2 2 0 2 0 0 3 3 0 0 1 1"
bytes "$c/apply/form" $hello $members3 $adds 7
bytes "$c/apply/crash" $hello $members3 $adds 7  0 12 4 0  7  0 12 4 0  7
bytes "$c/apply/fence" $hello $members3 $adds 7  0 1 3  7  0 13 2  7
bytes "$c/apply/standby" $hello $members3 $adds 7  0 14 0 1  7  0 14 0 0  7
bytes "$c/apply/set-remove" $hello $members3 $adds 7  0 4 1 0 2 0 0 0 0 0 0 0 1 255 1  0 6 0  7  0 3 0  7
