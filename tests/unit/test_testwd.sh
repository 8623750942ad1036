#!/bin/sh
# xenha-testwd, the namespace-test watchdog supervisor, end to end: a real
# supervisor on a unix socket whose "power-off command" appends a line to a
# marker file, driven by small python3 clients (socat is not installed):
#   - usage: --help exits 0, bad usage exits 2
#   - armed at 300 ms and petted for 1 s: no fire; petting stops: it fires
#     within ~1 s, and not before 250 ms after the last pet
#   - "disarm" (the magic close): no fire
#   - a client killed without "disarm": it fires
#   - "fire": immediate
#   - another process reconnects and re-arms after a fire, and that arm
#     works (petted: no fire; then it expires again)
#   - a second connection replaces the first (logged)
#   - the expiry and power-off log lines
#   - a second supervisor on a live socket is refused
#   - the "test" watchdog driver itself (wd_client, built on
#     src/drivers/watchdog.c): arm + pet + disarm does not fire, abandon
#     fires, wd_fire fires at once
#   - SIGTERM while armed: exit 0, no fire, socket and pidfile removed
#
# Run by `make check` from the top build directory (TESTWD and WD_CLIENT
# may override the programs' paths).  Every process started is recorded by PID and
# stopped by it; the temporary directory is removed on exit.
set -u

TESTWD=${TESTWD:-./src/testwd/xenha-testwd}
WD_CLIENT=${WD_CLIENT:-./tests/unit/wd_client}

for prog in "$TESTWD" "$WD_CLIENT"; do
	if [ ! -x "$prog" ]; then
		echo "test_testwd: missing program $prog (run from the build directory)" >&2
		exit 99
	fi
done
if ! command -v python3 >/dev/null 2>&1; then
	echo "test_testwd: python3 not installed: skipped"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xenha-test-testwd.XXXXXX") || exit 99
pids=""
cleanup() {
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM HUP

fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

# forget PID (it was stopped and reaped)
forget() {
	rest=""
	for p in $pids; do
		[ "$p" = "$1" ] || rest="$rest $p"
	done
	pids=$rest
}

sock=$tmp/wd.sock
pidfile=$tmp/wd.pid
log=$tmp/wd.log
mark=$tmp/marker
: >"$mark"

# The client: steps run in order, every wait bounded; the last pet's time
# (or the arm's) is the reference for expect-fire.  Exit 1 on a failed
# expectation, with the reason on stderr.
cat >"$tmp/client.py" <<'EOF'
import os, socket, sys, time

def count(path):
    with open(path) as f:
        return sum(1 for _ in f)

sock_path, steps = sys.argv[1], sys.argv[2:]
s = None
last = time.monotonic()
for step in steps:
    a = step.split(":")
    if a[0] == "connect":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)
    elif a[0] == "arm":
        s.sendall(("arm %s\n" % a[1]).encode())
        last = time.monotonic()
    elif a[0] == "send":
        s.sendall((a[1] + "\n").encode())
    elif a[0] == "pet":
        # pet:DURATION_MS:EVERY_MS
        end = time.monotonic() + int(a[1]) / 1000.0
        while time.monotonic() < end:
            s.sendall(b"pet\n")
            last = time.monotonic()
            time.sleep(int(a[2]) / 1000.0)
    elif a[0] == "sleep":
        time.sleep(int(a[1]) / 1000.0)
    elif a[0] == "close":
        s.close()
        s = None
    elif a[0] == "touch":
        open(a[1], "w").close()
    elif a[0] == "hold":
        time.sleep(60)
    elif a[0] == "expect-count":
        # expect-count:FILE:N  the marker has exactly N lines now
        c = count(a[1])
        if c != int(a[2]):
            sys.exit("marker has %d lines, expected %s" % (c, a[2]))
    elif a[0] == "expect-fire":
        # expect-fire:FILE:N:MIN_MS:MAX_MS  line N appears MIN..MAX ms after the last pet
        limit = last + int(a[4]) / 1000.0
        while count(a[1]) < int(a[2]) and time.monotonic() < limit + 0.5:
            time.sleep(0.005)
        ms = (time.monotonic() - last) * 1000.0
        c = count(a[1])
        print("fired_after_ms=%.0f lines=%d" % (ms, c))
        if c < int(a[2]):
            sys.exit("no fire within %s ms" % a[4])
        if c > int(a[2]):
            sys.exit("%d fires, expected %s" % (c, a[2]))
        if ms < int(a[3]) or ms > int(a[4]):
            sys.exit("fired after %.0f ms, expected %s..%s" % (ms, a[3], a[4]))
    else:
        sys.exit("bad step " + step)
EOF

client() {
	timeout 30 python3 "$tmp/client.py" "$sock" "$@" >"$tmp/client.out" 2>&1
}

# wait_file FILE TENTHS: bounded wait for FILE to exist
wait_file() {
	i=0
	while [ ! -e "$1" ] && [ "$i" -lt "$2" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ]
}

# wait_lines FILE N TENTHS: bounded wait for FILE to have N lines
wait_lines() {
	i=0
	while [ "$(wc -l <"$1")" -lt "$2" ] && [ "$i" -lt "$3" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(wc -l <"$1")" -eq "$2" ]
}

# step DESCRIPTION: ok if the last client run exited 0
step() {
	if [ "$rc" -eq 0 ]; then
		ok "$1"
	else
		not_ok "$1"
		sed 's/^/#   /' "$tmp/client.out"
	fi
}

# ---- usage ----
"$TESTWD" --help >"$tmp/out" 2>&1; rc=$?
if [ "$rc" -eq 0 ] && grep -q '^usage: xenha-testwd' "$tmp/out"; then ok "--help exits 0"; else not_ok "--help exits 0 (rc=$rc)"; fi
for args in "" "--socket $sock -- true" "--pidfile $pidfile -- true" \
	"--socket $sock --pidfile $pidfile" "--socket $sock --pidfile $pidfile true" \
	"--bogus --socket $sock --pidfile $pidfile -- true"; do
	# shellcheck disable=SC2086
	"$TESTWD" $args >"$tmp/out" 2>&1; rc=$?
	if [ "$rc" -eq 2 ]; then ok "bad usage exits 2: '$args'"; else not_ok "bad usage exits 2: '$args' (rc=$rc)"; fi
done
[ -e "$sock" ] && not_ok "bad usage left a socket"

# ---- start ----
"$TESTWD" --socket "$sock" --pidfile "$pidfile" --log "$log" --host h1 -- \
	sh -c 'echo "poweroff host=$XENHA_TESTWD_HOST" >>"$1"' poweroff "$mark" &
wdpid=$!
pids="$pids $wdpid"
if wait_file "$pidfile" 50 && [ "$(cat "$pidfile")" = "$wdpid" ] && [ -S "$sock" ]; then
	ok "started: pidfile and socket"
else
	not_ok "started: pidfile and socket"
	sed 's/^/#   /' "$log"
	exit 1
fi

# ---- petting keeps it quiet; silence fires it ----
client connect arm:300 pet:1000:100 "expect-count:$mark:0" "expect-fire:$mark:1:250:1000"; rc=$?
step "arm 300, pet 1 s: no fire; stop petting: fires 250..1000 ms after the last pet"
grep 'fired_after' "$tmp/client.out" | sed 's/^/# /'
if grep -q '^poweroff host=h1$' "$mark"; then ok "power-off command ran with the host name"; else not_ok "power-off command ran with the host name"; fi
if grep -Eq 'expired host=h1 after_ms=300 last_pet_ms_ago=(2[5-9][0-9]|[3-9][0-9][0-9]) .*reason=timeout' "$log"; then
	ok "expiry logged with after_ms and last_pet_ms_ago"
else
	not_ok "expiry logged with after_ms and last_pet_ms_ago"
	sed 's/^/#   /' "$log"
fi
if grep -q 'poweroff done host=h1 exit=0' "$log"; then ok "power-off exit status logged"; else not_ok "power-off exit status logged"; fi

# ---- disarm: the magic close ----
client connect arm:300 pet:500:100 send:disarm close sleep:800 "expect-count:$mark:1"; rc=$?
step "a new process re-arms after a fire; disarm: no fire"

# ---- a client that dies without disarm ----
rm -f "$tmp/ready"
timeout 30 python3 "$tmp/client.py" "$sock" connect arm:300 pet:300:100 "touch:$tmp/ready" hold \
	>"$tmp/held.out" 2>&1 &
cpid=$!
pids="$pids $cpid"
if wait_file "$tmp/ready" 50; then
	kill -KILL "$cpid"
	wait "$cpid" 2>/dev/null
	forget "$cpid"
	if wait_lines "$mark" 2 20; then ok "client killed without disarm: fires"; else not_ok "client killed without disarm: fires"; fi
else
	not_ok "client killed without disarm: client never got ready"
	sed 's/^/#   /' "$tmp/held.out"
fi

# ---- closed without disarm: still armed ----
client connect arm:300 close "expect-fire:$mark:3:250:1000"; rc=$?
step "closed without disarm: fires"

# ---- fire: immediate ----
client connect arm:10000 send:fire "expect-fire:$mark:4:0:200"; rc=$?
step "fire: immediate"

# ---- reconnect and re-arm after a fire ----
client connect arm:300 pet:600:100 "expect-count:$mark:4" "expect-fire:$mark:5:250:1000"; rc=$?
step "re-armed after a fire: petted no fire, then expires again"

# ---- pets after an expiry do nothing; nothing fires twice ----
client connect arm:200 sleep:400 "expect-count:$mark:6" sleep:600 "expect-count:$mark:6"; rc=$?
step "one expiry runs the power-off command once"

# ---- a second connection replaces the first ----
rm -f "$tmp/ready"
timeout 30 python3 "$tmp/client.py" "$sock" connect arm:5000 "touch:$tmp/ready" hold \
	>"$tmp/held.out" 2>&1 &
cpid=$!
pids="$pids $cpid"
if wait_file "$tmp/ready" 50; then
	client connect pet:300:100 send:disarm close sleep:200; rc=$?
	kill -KILL "$cpid"
	wait "$cpid" 2>/dev/null
	forget "$cpid"
	step "second client pets and disarms the first one's arm"
	if grep -q 'new client replaces the old one' "$log"; then ok "replacement logged"; else not_ok "replacement logged"; fi
	sleep 0.5
	if [ "$(wc -l <"$mark")" -eq 6 ]; then ok "replaced client's death does not fire"; else not_ok "replaced client's death does not fire"; fi
else
	not_ok "replacement: first client never got ready"
fi

# ---- one supervisor per socket ----
"$TESTWD" --socket "$sock" --pidfile "$tmp/other.pid" -- true >"$tmp/out" 2>&1; rc=$?
if [ "$rc" -eq 1 ] && grep -q 'another supervisor' "$tmp/out" && [ -S "$sock" ]; then
	ok "second supervisor on a live socket refused"
else
	not_ok "second supervisor on a live socket refused (rc=$rc)"
	sed 's/^/#   /' "$tmp/out"
fi

# ---- the driver against the supervisor ----
timeout 30 "$WD_CLIENT" "test:$sock" 300 pet:1000:100 disarm >"$tmp/client.out" 2>&1; rc=$?
sleep 0.6
if [ "$rc" -eq 0 ] && grep -q '^kind=test actual_ms=300$' "$tmp/client.out" && [ "$(wc -l <"$mark")" -eq 6 ]; then
	ok "driver: wd_open, wd_pet for 1 s, wd_disarm_close: no fire"
else
	not_ok "driver: wd_open, wd_pet for 1 s, wd_disarm_close: no fire (rc=$rc)"
	sed 's/^/#   /' "$tmp/client.out"
fi
timeout 30 "$WD_CLIENT" "test:$sock" 300 pet:300:100 abandon >"$tmp/client.out" 2>&1; rc=$?
if [ "$rc" -eq 0 ] && wait_lines "$mark" 7 20; then
	ok "driver: wd_abandon fires"
else
	not_ok "driver: wd_abandon fires (rc=$rc)"
	sed 's/^/#   /' "$tmp/client.out"
fi
timeout 30 "$WD_CLIENT" "test:$sock" 10000 fire sleep:300 >"$tmp/client.out" 2>&1; rc=$?
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$mark")" -eq 8 ]; then
	ok "driver: wd_fire fires at once"
else
	not_ok "driver: wd_fire fires at once (rc=$rc)"
	sed 's/^/#   /' "$tmp/client.out"
fi

# ---- SIGTERM while armed: no fire ----
client connect arm:400 close; rc=$?
kill -TERM "$wdpid"
wait "$wdpid"; rc=$?
forget "$wdpid"
if [ "$rc" -eq 0 ]; then ok "SIGTERM: exit 0"; else not_ok "SIGTERM: exit 0 (rc=$rc)"; fi
sleep 0.6
if [ "$(wc -l <"$mark")" -eq 8 ]; then ok "SIGTERM while armed: no fire"; else not_ok "SIGTERM while armed: no fire"; fi
if [ ! -e "$sock" ] && [ ! -e "$pidfile" ]; then ok "socket and pidfile removed"; else not_ok "socket and pidfile removed"; fi

# ---- a stale socket from a dead supervisor is replaced ----
"$TESTWD" --socket "$sock" --pidfile "$pidfile" --log "$log" -- true &
wdpid=$!
pids="$pids $wdpid"
if wait_file "$pidfile" 50; then
	kill -KILL "$wdpid"
	wait "$wdpid" 2>/dev/null
	forget "$wdpid"
	rm -f "$pidfile"
	"$TESTWD" --socket "$sock" --pidfile "$pidfile" --log "$log" -- true &
	wdpid=$!
	pids="$pids $wdpid"
	if wait_file "$pidfile" 50 && grep -q 'removed stale socket' "$log"; then
		ok "stale socket of a killed supervisor replaced"
	else
		not_ok "stale socket of a killed supervisor replaced"
	fi
	kill -TERM "$wdpid"
	wait "$wdpid" 2>/dev/null
	forget "$wdpid"
else
	not_ok "stale socket: supervisor did not start"
fi

echo "1..$n"
if [ "$fails" -ne 0 ]; then
	echo "test_testwd: $fails of $n checks failed" >&2
	sed 's/^/# log: /' "$log" >&2
	exit 1
fi
exit 0
