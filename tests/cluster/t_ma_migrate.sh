#!/bin/bash
# Migration case a: live migration while the domain dirties its memory.
# A sim domain holding 32 MiB that dirties 8 MiB/s is migrated h1 -> h2 ->
# h3 -> h1 (the last without a host: the scheduler picks) and then around
# again: every `hactl migrate` exits 0 and prints progress and the
# downtime; the generation goes up by one each time; every host shows the
# same placement; the domain's restarts stay 0 (the sim domain checks its
# memory after arriving and would exit on corruption); exactly one process
# at the end; the oracle finds no overlap.  A migration to a host whose
# xenhad has another cluster key is refused by the transport and leaves the
# domain running where it was.  Bad requests exit with scripts' codes.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case ma_migrate

XH_SIM_HOLD_MB=32
XH_SIM_DIRTY_KIB_S=8192
D=mig
xh_mig_case_up 3 "$D"

xh_hactl 2 migrate nosuch h2 >/dev/null 2>&1
[ $? = 5 ] || xh_fail "migrate of an unknown domain: expected exit 5"
xh_hactl 2 migrate "$D" nosuch >/dev/null 2>&1
[ $? = 5 ] || xh_fail "migrate to an unknown host: expected exit 5"
xh_hactl 2 migrate "$D" h1 >/dev/null 2>&1
[ $? = 1 ] || xh_fail "migrate to the host it runs on: expected exit 1"
xh_hactl 2 migrate >/dev/null 2>&1
[ $? = 2 ] || xh_fail "migrate without a domain: expected exit 2"

gen=$(xh_domf 1 "$D" generation)
n=0
for to in h2 h3 "" h2 h3 ""; do
	from=$(xh_domf 1 "$D" host)
	out=$(xh_hactl $((n % 3 + 1)) --timeout 120 migrate "$D" $to 2>&1)
	rc=$?
	echo "$out" | sed 's/^/    /'
	[ "$rc" = 0 ] || xh_fail "migrate $D ${to:-(no host given)} from $from: exit $rc"
	echo "$out" | grep -qE "^$D: migrated to h[0-9] in [0-9.]+ s, downtime [0-9]+ ms$" ||
		xh_fail "no downtime line in hactl's output"
	now=$(xh_domf 1 "$D" host)
	[ "$now" != "$from" ] || xh_fail "$D still on $from"
	[ -z "$to" ] || [ "$now" = "$to" ] || xh_fail "$D on $now, not $to"
	gen=$((gen + 1))
	[ "$(xh_domf 1 "$D" generation)" = "$gen" ] || xh_fail "generation is not $gen"
	xh_wait_until 10 "one process of $D" xh_settled "$D" || xh_fail "not one copy after migration"
	xh_wait_until 10 "same placement on every host" xh_same_placement 1 2 3 ||
		xh_fail "hosts disagree on the placement"
	xh_check_copies 1 || xh_fail "single-copy check after migration $n"
	n=$((n + 1))
done
[ "$(xh_domf 1 "$D" restarts)" = 0 ] || xh_fail "$D was restarted (memory check failed?)"
e=$(xh_event 1 migration "downtime")
[ -n "$e" ] || xh_fail "no migration event with the downtime in the history"
xh_log "history: $e"

# h3 with another cluster key: the transport refuses it, nothing moves
other=$XH_DIR/otherkey
"$XH_HACTL" keygen -f "$other" >/dev/null || xh_fail "keygen"
sed -i "s|^keyfile = .*|keyfile = $other|" "$XH_DIR/h3/xenha.conf"
xh_kill_xenhad 3 TERM || xh_fail "stop xenhad on h3"
xh_start_xenhad 3 || xh_fail "start xenhad on h3"
xh_wait_up 3 60 || xh_fail "h3 did not rejoin"
from=$(xh_domf 1 "$D" host)
[ "$from" != h3 ] || xh_fail "$D unexpectedly on h3"
out=$(xh_hactl 1 --timeout 60 migrate "$D" h3 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
[ "$rc" = 1 ] || xh_fail "migrate to a host with another key: exit $rc, expected 1"
echo "$out" | grep -q "aborted" || xh_fail "hactl did not say the migration was aborted"
[ "$(xh_domf 1 "$D" host)" = "$from" ] || xh_fail "$D moved off $from"
xh_wait_until 10 "one process of $D" xh_settled "$D" || xh_fail "not one copy after the refusal"
grep -q "refused\|TLS\|key" "$XH_DIR/h3/log/xenhad.log" ||
	xh_fail "h3 logged no refused connection"
xh_same_placement 1 2 3 || xh_fail "hosts disagree on the placement"
xh_check_copies 1 || xh_fail "single-copy check at the end"
xh_pass
