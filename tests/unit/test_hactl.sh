#!/bin/bash
# hactl end to end against tests/unit/fake_xenhad: command line, requests
# sent, output, exit statuses.  Runs in a private user+network namespace so
# the abstract IPC socket "xenha" cannot meet a real xenhad (or another
# test).  Skips (77) when user namespaces are not available.
set -u

if [ -z "${HACTL_TEST_NS:-}" ]; then
	for t in jq script setsid unshare; do
		command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
	done
	unshare -rn true 2>/dev/null || { echo "SKIP: no user namespaces"; exit 77; }
	HACTL_TEST_NS=1 exec unshare -rn "$BASH" "$0" "$@"
fi

B=${BUILD:-$PWD}
HACTL=$B/src/hactl/hactl
FAKE=$B/tests/unit/fake_xenhad
for x in "$HACTL" "$FAKE"; do
	[ -x "$x" ] || { echo "FAIL: $x not built"; exit 1; }
done

T=$(mktemp -d)
FPID=
stop_fake() {
	if [ -n "$FPID" ]; then
		kill "$FPID" 2>/dev/null
		wait "$FPID" 2>/dev/null
		FPID=
	fi
}
trap 'stop_fake; rm -rf "$T"' EXIT

fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

start_fake() { # [--deny]
	stop_fake
	rm -f "$T/ready" "$T/log"
	: >"$T/log"
	"$FAKE" --ready "$T/ready" --log "$T/log" --lifetime 120 "$@" &
	FPID=$!
	for _ in $(seq 50); do
		[ -s "$T/ready" ] && return 0
		sleep 0.1
	done
	echo "FAIL: fake_xenhad did not start"
	exit 1
}

# run ARGS...: hactl with stdin from /dev/null; sets rc, out, err
run() {
	"$HACTL" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# expect_rc WANT DESCRIPTION ARGS...
expect_rc() {
	local want=$1 what=$2
	shift 2
	run "$@"
	if [ "$rc" = "$want" ]; then
		ok "$what (exit $rc)"
	else
		bad "$what: exit $rc, expected $want; stderr: $err"
	fi
}

# check DESCRIPTION COMMAND...: a shell test
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

# jqok DESCRIPTION FILTER [FILE]: jq -e on the output (or FILE)
jqok() {
	if jq -e "$2" "${3:-$T/out}" >/dev/null 2>&1; then ok "$1"; else bad "$1: jq $2 failed on $(cat "${3:-$T/out}")"; fi
}

last_req() { tail -n 1 "$T/log"; }
# the last request, canonical (sorted keys, compact)
last_req_c() { last_req | jq -cS .; }
req_is() { # DESCRIPTION JSON
	local want
	want=$(echo "$2" | jq -cS .)
	if [ "$(last_req_c)" = "$want" ]; then ok "$1"; else bad "$1: sent $(last_req), expected $2"; fi
}

# ------------------------------------------------------------ no daemon
expect_rc 3 "no xenhad: cannot connect" status
check "no xenhad: message" grep -q "cannot connect to xenhad" "$T/err"

# ---------------------------------------------------------- usage errors
expect_rc 2 "no command" 
expect_rc 2 "unknown command" frobnicate
expect_rc 0 "--help" --help
check "--help shows the synopsis" grep -q '^Usage: hactl \[--json\] \[--timeout SEC\] COMMAND' "$T/out"
expect_rc 2 "bad --timeout" --timeout 0 status
expect_rc 2 "domain add without a name" domain add
expect_rc 2 "domain set without changes" domain set web1
expect_rc 2 "domain set --stopped" domain set web1 --stopped
expect_rc 2 "bad restart policy" domain add w --restart sometimes
expect_rc 2 "negative memory" domain add w --memory -1
expect_rc 2 "too many preferred hosts" domain add w --prefer a,b,c,d,e,f,g,h,i
expect_rc 2 "node without subcommand" node
expect_rc 2 "node bogus" node reboot h1
expect_rc 2 "fence without a subcommand" fence
expect_rc 2 "fence status with an operand" fence status h1
expect_rc 3 "fence HOST without xenha-fenced" fence h1
check "usage errors start with hactl:" grep -q '^hactl: ' "$T/err"

start_fake

# --------------------------------------------------------------- reads
expect_rc 0 "status" status
req_is "status request" '{"op":"status"}'
check "status: cluster line" grep -Eq '^Cluster: +quorate, 2 members, 3 expected votes, coordinator h1$' "$T/out"
check "status: local line" grep -Eq '^Local node: +h1 \(id 1\), synced, quorate, hypervisor sim$' "$T/out"
check "status: node table header" grep -Eq '^Name +ID +State +Fence +Flags +Mem total/free +Domains$' "$T/out"
check "status: h2 online in standby" grep -Eq '^h2 +2 +online +none +standby +4096/3320 +1$' "$T/out"
check "status: h3 OFFLINE, fence pending" grep -Eq '^h3 +3 +OFFLINE +pending +- +4096/3064 +1$' "$T/out"
check "status: domain summary" grep -Eq '^Domains: 6 total: 2 running, 1 starting, 0 stopping, 1 stopped, 1 failed, 1 lost$' "$T/out"

expect_rc 0 "status --json" --json status
jqok "status --json is the data object" '.cluster.members == 2 and .local.name == "h1" and (.nodes | length) == 3 and .domains.total == 6'
check "status --json is pretty-printed" grep -q '^  "cluster":{$' "$T/out"
expect_rc 0 "--json after the command" status --json
jqok "status --json (after) parses" '.cluster.quorate == true'

expect_rc 0 "nodes" nodes
check "nodes: three rows and a header" test "$(wc -l <"$T/out")" = 4
expect_rc 0 "nodes --json" --json nodes
jqok "nodes --json keys" '.nodes[0] | keys == (["domains","fence","maintenance","mem_free_mb","mem_reserved_mb","mem_total_mb","member","name","nodeid","running","standby"])'

expect_rc 0 "domains" domains
check "domains: header" grep -Eq '^Name +State +Host +Mem\(MiB\) +Prio +Gen +Restarts +Reason$' "$T/out"
check "domains: sorted by name" test "$(awk 'NR > 1 { print $1 }' "$T/out" | tr '\n' ' ')" = "bad db mail noquorum slow web1 "
check "domains: db row" grep -Eq '^db +running +h1 +1024 +10 +1 +0 *$' "$T/out"
check "domains: no host is -" grep -Eq '^web1 +failed +- +256 +5 +0 +3 +crashed\?\[31m$' "$T/out"
check "domains: no escape sequence reaches the terminal" sh -c "! grep -q \"$(printf '\033')\" '$T/out'"
expect_rc 0 "domains NAME" domains db
req_is "domains NAME request" '{"op":"domains","name":"db"}'
check "domains NAME: one row" test "$(wc -l <"$T/out")" = 2
expect_rc 5 "domains of an unknown name" domains nope
check "domains nope: reason printed" grep -q '^hactl: domains nope: no such domain: nope$' "$T/err"
expect_rc 0 "domains --json" --json domains
jqok "domains --json: 6, host null for web1" '(.domains | length) == 6 and (.domains[] | select(.name == "web1") | .host == null)'

expect_rc 0 "history -n 2" history -n 2
req_is "history request" '{"op":"history","limit":2}'
check "history: header + 2 rows" test "$(wc -l <"$T/out")" = 3
check "history: ISO 8601 local time, columns" grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2} +domain-state +h1 +db +starting => running$' "$T/out"
check "history: no host/domain is -" grep -Eq ' host-left +h3 +- +h3 left the membership$' "$T/out"
TZ=UTC0 run history
check "history in UTC" grep -q '^2023-11-14T22:13:20+00:00 ' "$T/out"
expect_rc 0 "history (all)" history
req_is "history without -n" '{"op":"history"}'
expect_rc 0 "history --json" --json history -n 1
jqok "history --json" '(.events | length) == 1 and .events[0].seq == 4'

# -------------------------------------------------------------- writes
printf 'name = "web9"\nmemory = 512\n' >"$T/web9.cfg"
expect_rc 0 "domain add with every option" domain add web9 --memory 512 --priority -2 \
	--restart on-crash --max-restarts 1 --max-relocations 4 --prefer h1,h2 --avoid h3 \
	--group web --config "$T/web9.cfg" --stopped
req_is "domain add request" '{"op":"domain-add","def":{"name":"web9","memory_mb":512,"priority":-2,"restart":"on-crash","max_restarts":1,"max_relocations":4,"preferred":["h1","h2"],"avoided":["h3"],"group":"web","xlcfg":"name = \"web9\"\nmemory = 512\n","start":false}}'
check "domain add: confirmation" grep -Eq '^domain web9: added \(applied at seq [0-9]+\)$' "$T/out"
expect_rc 0 "domain add with defaults" domain add web8
req_is "domain add defaults" '{"op":"domain-add","def":{"name":"web8","memory_mb":256,"priority":0,"restart":"always","max_restarts":3,"max_relocations":3,"preferred":[],"avoided":[],"group":"","start":true}}'
expect_rc 0 "domain add, options before the name" domain add --memory 300 web7
last_req >"$T/req"
jqok "options before the name" '.def.name == "web7" and .def.memory_mb == 300' "$T/req"

expect_rc 0 "domain set memory" domain set db --memory 2048
req_is "domain set sends only the changed field" '{"op":"domain-set","name":"db","def":{"memory_mb":2048}}'
expect_rc 0 "domain set clears lists" domain set db --prefer '' --group ''
req_is "domain set clearing" '{"op":"domain-set","name":"db","def":{"preferred":[],"group":""}}'
expect_rc 5 "domain set of an unknown domain" domain set nope --priority 1

expect_rc 0 "domain start" domain start db
req_is "domain start request" '{"op":"domain-start","name":"db"}'
check "domain start: confirmation" grep -Eq '^domain db: target set to started \(applied at seq [0-9]+\)$' "$T/out"
expect_rc 0 "domain stop" domain stop db
req_is "domain stop request" '{"op":"domain-stop","name":"db"}'
expect_rc 0 "domain remove" domain remove db
req_is "domain remove request" '{"op":"domain-remove","name":"db"}'
expect_rc 5 "domain start of an unknown domain" domain start nope
check "refusal names the command and the domain" grep -q '^hactl: domain start nope: no such domain: nope$' "$T/err"
expect_rc 6 "no quorum" domain stop noquorum
check "no quorum: reason" grep -q 'no quorum' "$T/err"
expect_rc 1 "malformed response" domain start bad
check "malformed response: message" grep -q '^hactl: bad response from xenhad' "$T/err"
expect_rc 7 "timeout" --timeout 1 domain start slow
check "timeout: message" grep -q 'no answer from xenhad within 1 s' "$T/err"
expect_rc 0 "--json on a write" --json domain start db
jqok "--json write data" '.applied == true and (.seq | type) == "number"'

expect_rc 0 "node standby --no-wait" node standby h2 --no-wait
req_is "node standby request" '{"op":"node-flags","name":"h2","standby":true}'
# without --no-wait it follows the drain; nothing moves in the fake's state
expect_rc 7 "node standby follows the drain until --timeout" node standby h2 --timeout 2
case $out in *"h2 (1 migrating)"* | *"1 left on h2"*) ok "drain progress shown" ;;
*) bad "drain progress shown: $out" ;; esac
expect_rc 2 "node online --no-wait is refused" node online h2 --no-wait
expect_rc 0 "migrate --no-wait" migrate db h2 --no-wait
req_is "migrate request" '{"op":"migrate","name":"db","host":"h2"}'
expect_rc 0 "migrate without a host" migrate db --no-wait
req_is "migrate request without a host" '{"op":"migrate","name":"db"}'
expect_rc 2 "migrate without a domain" migrate
expect_rc 2 "migrate with three operands" migrate db h2 h3
expect_rc 5 "migrate of an unknown domain" migrate nosuch h2 --no-wait
expect_rc 0 "node maintenance" node maintenance h2
req_is "node maintenance request" '{"op":"node-flags","name":"h2","maintenance":true}'
expect_rc 0 "node online" node online h2
req_is "node online request" '{"op":"node-flags","name":"h2","standby":false,"maintenance":false}'
expect_rc 5 "node of an unknown host" node standby h9

# --------------------------------------------------------------- fence
expect_rc 1 "fence confirm of a member is refused" fence confirm h1 --yes
check "refusal reason" grep -q '^hactl: fence confirm h1: host h1 is a cluster member$' "$T/err"
expect_rc 5 "fence confirm of an unknown host" fence confirm h9 --yes
lines=$(wc -l <"$T/log")
# setsid: no controlling terminal, as under cron or a test harness
setsid -w "$HACTL" fence confirm h3 </dev/null >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 2 ] && ok "fence confirm without terminal and --yes: exit 2" ||
	bad "fence confirm without terminal and --yes: exit $rc"
check "... and says to use --yes" grep -q -- '--yes' "$T/err"
check "... and sent nothing" test "$(wc -l <"$T/log")" = "$lines"
expect_rc 0 "fence confirm --yes" fence confirm h3 --yes
req_is "fence confirm request" '{"op":"fence-confirm","name":"h3"}'

# the prompt, on a pseudo-terminal
tty_confirm() { # ANSWER
	printf '%s\n' "$1" | setsid -w script -qec "$HACTL fence confirm h3" /dev/null >"$T/out" 2>&1
}
: >"$T/log"
tty_confirm h3
rc=$?
[ "$rc" = 0 ] && ok "fence confirm typed on a terminal" || bad "fence confirm on a terminal: exit $rc; $(cat "$T/out")"
check "prompt shown" grep -q 'type the host name to confirm: ' "$T/out"
check "warning shown" grep -q 'DESTROY' "$T/out"
check "host described" grep -q 'Host h3: not a cluster member, fence state pending' "$T/out"
req_is "confirmed on the terminal: request sent" '{"op":"fence-confirm","name":"h3"}'
: >"$T/log"
tty_confirm h4
rc=$?
[ "$rc" = 2 ] && ok "wrong name typed: exit 2" || bad "wrong name typed: exit $rc"
check "wrong name: no fence-confirm sent" sh -c "! grep -q fence-confirm '$T/log'"

# -------------------------------------------------------- permissions
start_fake --deny
expect_rc 4 "connection refused by xenhad" status
check "permission message" grep -q 'permission denied' "$T/err"
stop_fake

echo "1..$n"
[ "$fails" = 0 ]
