#!/bin/sh
# Tests of xenha-oracle, the split-brain oracle of the sim hypervisor:
# crafted image files (clean, overlapping, torn, malformed, large) and a
# live run of two xenha-simdom processes of one domain, at the same time
# (must be flagged) and one after the other (must be clean).
#
# Run by `make check` from the top build directory; ORACLE and SIMDOM may
# override the programs' paths.  Every process started here is recorded by
# PID and stopped by PID; the temporary directory is removed on exit.
set -u

ORACLE=${ORACLE:-./src/tools/xenha-oracle}
SIMDOM=${SIMDOM:-./src/sim/xenha-simdom}
for p in "$ORACLE" "$SIMDOM"; do
	if [ ! -x "$p" ]; then
		echo "test_oracle: missing program $p (run from the build directory)" >&2
		exit 99
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xenha-test-oracle.XXXXXX") || exit 99
pids=""
cleanup() {
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM HUP

fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

# run_oracle EXPECTED_EXIT DESCRIPTION ARGS...: output in $tmp/out, $tmp/err
run_oracle() {
	want=$1 desc=$2
	shift 2
	timeout 60 "$ORACLE" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		ok "$desc (exit $got)"
	else
		not_ok "$desc: exit $got, expected $want"
		sed 's/^/#   out: /' "$tmp/out"
		sed 's/^/#   err: /' "$tmp/err"
	fi
}

# expect_out FILE FIXED-STRING DESCRIPTION
expect_in() {
	if grep -qF -- "$2" "$1"; then
		ok "$3"
	else
		not_ok "$3: no '$2' in $(basename "$1")"
		sed 's/^/#   /' "$1"
	fi
}

# rec INC SEQ MONO NODE GEN EV: one well-formed record
rec() {
	printf 'inc=%s seq=%s mono_ns=%s wall_ns=%s node=%s gen=%s ev=%s\n' \
		"$1" "$2" "$3" "$(($3 + 1700000000000000000))" "$4" "$5" "$6"
}

# incarnation INC NODE GEN FIRST LAST STEP END_EV: records FIRST..LAST
incarnation() {
	i=0 t=$4
	while [ "$t" -le "$5" ]; do
		if [ "$i" -eq 0 ]; then ev=start
		elif [ "$t" -gt $(($5 - $6)) ]; then ev=$7
		else ev=tick; fi
		rec "$1" "$i" "$t" "$2" "$3" "$ev"
		i=$((i + 1)) t=$((t + $6))
	done
}

# ---- usage and I/O errors ----
run_oracle 2 "no arguments is a usage error"
run_oracle 2 "unknown option is a usage error" --bogus "$tmp"
run_oracle 2 "missing directory is an I/O error" "$tmp/no-such-dir"
mkdir "$tmp/empty"
run_oracle 0 "empty directory is clean" "$tmp/empty"
expect_in "$tmp/out" "oracle: domains=0 incarnations=0 records=0 malformed=0 violations=0" \
	"empty directory summary"

# ---- clean: sequential incarnations ----
d=$tmp/clean
mkdir "$d"
{
	incarnation 1-1-aaaa 1 1 1000000000 1500000000 50000000 stop
	incarnation 2-2-bbbb 2 2 1600000000 2000000000 50000000 shutdown
	incarnation 1-3-cccc 1 3 2100000000 2500000000 50000000 tick
} >"$d/web1.img"
incarnation 3-1-dddd 3 1 1000000000 3000000000 100000000 tick >"$d/db1.img"
echo "not an image" >"$d/README"
run_oracle 0 "sequential incarnations are clean" "$d"
expect_in "$tmp/out" "oracle: domains=2 incarnations=4 records=50 malformed=0 violations=0" \
	"clean summary counts domains, incarnations and records"

# ---- overlap: the pair is named ----
d=$tmp/overlap
mkdir "$d"
{
	incarnation 1-1-aaaa 1 1 1000000000 2000000000 50000000 tick
	incarnation 2-2-bbbb 2 2 1900000000 3000000000 50000000 tick
	incarnation 1-3-cccc 1 3 3100000000 3500000000 50000000 tick
} >"$d/web1.img"
incarnation 3-1-dddd 3 1 1000000000 3000000000 100000000 tick >"$d/db1.img"
run_oracle 1 "overlapping incarnations are a split-brain" "$d"
expect_in "$tmp/out" "split-brain: domain=web1 inc=1-1-aaaa [1.000000000..2.000000000] node=1 inc=2-2-bbbb [1.900000000..3.000000000] node=2 overlap_ms=100.000" \
	"violation line names both incarnations, intervals, nodes and overlap"
expect_in "$tmp/out" "violations=1" "exactly one violation"
if grep -q "db1\|cccc" "$tmp/out"; then not_ok "clean incarnations not reported"; else ok "clean incarnations not reported"; fi

# every pair, not just neighbours; touching intervals overlap
d=$tmp/three
mkdir "$d"
{
	incarnation A 1 1 1000 9000 1000 tick
	incarnation B 2 2 2000 3000 1000 tick
	incarnation C 3 3 4000 5000 1000 tick
	incarnation D 4 4 9000 9500 500 tick
	incarnation E 5 5 9600 9700 100 tick
} >"$d/x.img"
run_oracle 1 "all overlapping pairs reported" "$d"
expect_in "$tmp/out" "violations=3" "A-B, A-C and A-D (touching at 9000) overlap, E does not"
expect_in "$tmp/out" "inc=A [0.000001000..0.000009000] node=1 inc=D [0.000009000..0.000009500] node=4 overlap_ms=0.000" \
	"touching intervals are a violation"

# incarnations of one domain across two directories
mkdir "$tmp/dirA" "$tmp/dirB"
incarnation P 1 1 1000 5000 1000 tick >"$tmp/dirA/m.img"
incarnation Q 2 2 3000 8000 1000 tick >"$tmp/dirB/m.img"
run_oracle 1 "same domain in two directories is grouped" "$tmp/dirA" "$tmp/dirB"
run_oracle 0 "each directory alone is clean" "$tmp/dirA"

# ---- torn and malformed lines: counted, warned, not fatal ----
d=$tmp/torn
mkdir "$d"
{
	incarnation 1-1-aaaa 1 1 1000 5000 1000 stop
	incarnation 2-2-bbbb 2 2 6000 9000 1000 tick
	printf 'inc=2-2-bbbb seq=4 mono_ns=10000 wal'
} >"$d/web1.img"
{
	incarnation 1-1-eeee 1 1 1000 3000 1000 tick
	echo "garbage line"
	echo "inc=1-1-eeee seq=x mono_ns=4000 wall_ns=1 node=1 gen=1 ev=tick"
	echo "inc=1-1-eeee seq=3 mono_ns=4000 wall_ns=1 node=1 gen=1 ev=explode"
	echo "inc=1-1-eeee seq=3 mono_ns=4000 wall_ns=1 gen=1 node=1 ev=tick"
	echo "inc=1-1-eeee seq=3 mono_ns=4000 wall_ns=1 node=1 gen=1 ev=tick extra=1"
	echo "inc=1-1-eeee seq=3 mono_ns=99999999999999999999999 wall_ns=1 node=1 gen=1 ev=tick"
	incarnation 1-1-eeee 1 1 4000 5000 1000 tick
} >"$d/db1.img"
run_oracle 0 "torn last line and malformed lines are tolerated" "$d"
expect_in "$tmp/out" "records=14 malformed=7 violations=0" "torn and malformed lines counted"
expect_in "$tmp/err" "torn last line file=$d/web1.img line=10" "torn line warned about"
expect_in "$tmp/err" "malformed line (fields missing or out of order) file=$d/db1.img line=4" \
	"malformed line warned about"
# a torn line does not hide an overlap
printf 'inc=2-2-bbbb seq=4 mono_ns=10000 wal' >"$d/z.img"
incarnation X 1 1 1000 5000 1000 tick >>"$d/web1.img"
run_oracle 1 "overlap found despite torn lines" "$d"

# ---- live migration records: pause / migrate-in from= / resume ----
mkdir -p "$tmp/mig" "$tmp/migbad" "$tmp/migdoubt"
{
	rec 1-1-aa 0 1000 1 1 start
	rec 1-1-aa 1 2000 1 1 tick
	rec 1-1-aa 2 3000 1 1 pause
	printf 'inc=2-2-bb seq=0 mono_ns=3500 wall_ns=1700000000000003500 node=2 gen=2 ev=migrate-in from=1-1-aa\n'
	rec 2-2-bb 1 4500 2 2 tick
} >"$tmp/mig/vm.img"
run_oracle 0 "migration: pause then migrate-in is clean" "$tmp/mig"
expect_in "$tmp/out" "malformed=0" "migration records are well-formed"
{
	rec 1-1-aa 0 1000 1 1 start
	rec 2-2-bb 0 3500 2 2 migrate-in
	printf 'inc=1-1-aa seq=1 mono_ns=2000 wall_ns=1 node=1 gen=1 ev=tick from=x\n'
} >"$tmp/migbad/vm.img"
run_oracle 0 "migrate-in without from and from after tick: malformed, not fatal" "$tmp/migbad"
expect_in "$tmp/out" "malformed=2" "both lines counted as malformed"
{
	rec 1-1-aa 0 1000 1 1 start
	rec 1-1-aa 1 3000 1 1 pause
	printf 'inc=2-2-bb seq=0 mono_ns=3500 wall_ns=1700000000000003500 node=2 gen=2 ev=migrate-in from=1-1-aa\n'
	rec 1-1-aa 2 4000 1 1 resume
	rec 2-2-bb 1 4500 2 2 tick
} >"$tmp/migdoubt/vm.img"
run_oracle 1 "in-doubt migration wrongly resumed: overlap flagged" "$tmp/migdoubt"
expect_in "$tmp/out" "split-brain: domain=vm inc=1-1-aa" "the resumed source and the target are named"
run_oracle 1 "in-doubt overlap, --json" --json "$tmp/migdoubt"
expect_in "$tmp/out" '"from":"1-1-aa"' "--json names the incarnation migrated from"

# ---- --json ----
run_oracle 1 "--json exit status" --json "$tmp/overlap"
expect_in "$tmp/out" '"domains":2,"incarnations":4,"records":' "--json counts"
expect_in "$tmp/out" '"violations":[{"domain":"web1","a":{"inc":"1-1-aaaa","node":1,"gen":1,"first_ns":1000000000,"last_ns":2000000000' \
	"--json names the first incarnation"
expect_in "$tmp/out" '"b":{"inc":"2-2-bbbb","node":2,' "--json names the second incarnation"
expect_in "$tmp/out" '"overlap_ns":100000000}]' "--json overlap"
if command -v python3 >/dev/null 2>&1; then
	if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["violations"])==1' "$tmp/out"; then
		ok "--json output parses"
	else
		not_ok "--json output parses"
	fi
fi
run_oracle 0 "--verbose on a clean dir" --verbose "$tmp/clean"
expect_in "$tmp/err" "oracle: incarnation domain=web1 inc=2-2-bbbb node=2 gen=2" "--verbose lists incarnations"

# ---- large input: 1000 incarnations x 120 records ----
d=$tmp/large
mkdir "$d"
awk 'BEGIN {
	for (i = 0; i < 1000; i++)
		for (s = 0; s < 120; s++) {
			t = i * 1000000 + s * 1000
			printf "inc=1-%d-%08x seq=%d mono_ns=%d wall_ns=%d node=1 gen=%d ev=%s\n", i, i, s, t, t, i, (s == 0 ? "start" : "tick")
		}
}' >"$d/big.img"
start_s=$(date +%s)
run_oracle 0 "120000 records, 1000 sequential incarnations" "$d"
expect_in "$tmp/out" "domains=1 incarnations=1000 records=120000 malformed=0 violations=0" "large input counts"
# one late incarnation overlapping the first one hundred
awk 'BEGIN { for (s = 0; s < 100; s++) printf "inc=9-9-late seq=%d mono_ns=%d wall_ns=1 node=9 gen=9 ev=tick\n", s, s * 1000000 }' >>"$d/big.img"
run_oracle 1 "an overlapping incarnation among 1000" "$d"
expect_in "$tmp/out" "violations=100" "it overlaps exactly the first 100"
el=$(($(date +%s) - start_s))
if [ "$el" -le 20 ]; then ok "large input fast (${el}s)"; else not_ok "large input took ${el}s"; fi

# ---- live: real sim domains ----
# simdom NAME DIR INC: start one in the background, PID in $last
simdom() {
	"$SIMDOM" --name "$1" --image "$2/$1.img" --incarnation "$3" --hold-mb 1 \
		--dirty-kib-s 256 --record-ms 10 --node 1 --generation 1 \
		2>>"$tmp/simdom.log" &
	last=$!
	pids="$pids $last"
}
# wait_record FILE INC: until INC has written its start record (bounded)
wait_record() {
	i=0
	while [ $i -lt 100 ]; do
		grep -q "^inc=$2 .* ev=start$" "$1" 2>/dev/null && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "# no start record of $2 in $1" >&2
	return 1
}
# stop PID: SIGTERM and wait for it
stop() {
	kill -TERM "$1"
	wait "$1"
	st=$?
	pids=$(echo "$pids" | sed "s/ $1\$//; s/ $1 / /")
	return $st
}

d=$tmp/live-together
mkdir "$d"
simdom live "$d" 1-1-together; pa=$last
simdom live "$d" 2-1-together; pb=$last
wait_record "$d/live.img" 1-1-together && wait_record "$d/live.img" 2-1-together
sleep 0.3
stop "$pa"; sa=$?
stop "$pb"; sb=$?
if [ $sa -eq 0 ] && [ $sb -eq 0 ]; then ok "sim domains stop cleanly on SIGTERM"; else not_ok "sim domain exit status $sa $sb"; fi
run_oracle 1 "two live incarnations at the same time are flagged" "$d"
expect_in "$tmp/out" "inc=1-1-together" "live violation names the first incarnation"
expect_in "$tmp/out" "inc=2-1-together" "live violation names the second incarnation"
expect_in "$tmp/out" "violations=1" "live: one violation"

d=$tmp/live-sequential
mkdir "$d"
simdom live "$d" 1-1-first; pa=$last
wait_record "$d/live.img" 1-1-first
sleep 0.15
stop "$pa"
simdom live "$d" 2-2-second; pb=$last
wait_record "$d/live.img" 2-2-second
sleep 0.15
kill -USR1 "$pb"; wait "$pb"; sb=$?
pids=""
run_oracle 0 "live incarnations one after the other are clean" "$d"
expect_in "$tmp/out" "incarnations=2" "live sequential: two incarnations"
expect_in "$tmp/out" "malformed=0 violations=0" "live sequential: well-formed"
if [ "$(tail -n 1 "$d/live.img" | sed 's/.* ev=//')" = shutdown ] && [ $sb -eq 0 ]; then
	ok "SIGUSR1 writes ev=shutdown and exits 0"
else
	not_ok "SIGUSR1 end: $(tail -n 1 "$d/live.img") status $sb"
fi

echo "1..$n"
[ $fails -eq 0 ] || { echo "# $fails of $n failed"; exit 1; }
exit 0
