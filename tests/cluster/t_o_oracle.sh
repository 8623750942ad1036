#!/bin/bash
# Case o (the oracle can fail): start a second sim domain process for a
# domain that runs on h1, by hand in h2, for about a second; the harness's
# process check and the oracle must both see it, the oracle naming the domain.  This case passes when the
# oracle FAILS: it proves that the clean oracle runs of the other cases mean
# something.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case o_oracle

D="od"
xh_up 3 || xh_fail "cluster did not come up"
xh_hactl 1 domain add "$D" --memory 256 --prefer h1 >/dev/null || xh_fail "add $D"
xh_wait_until 30 "$D running" xh_all_running 1 1 || xh_fail "$D not running"
host=$(xh_domf 1 "$D" host)
gen=$(xh_domf 1 "$D" generation)
xh_simpid "${host#h}" "$D" >/dev/null || xh_fail "no process for $D on $host"
other=2
[ "$host" != h2 ] || other=3
xh_oracle >/dev/null || xh_fail "oracle not clean before the rogue start"

inc="$other-$gen-0000000000badbad"
xh_log "$D runs on $host; starting a rogue copy in h$other (incarnation $inc)"
rpid=$(xh_spawn "$other" "$XH_DIR/h$other/log/rogue-$D.log" "$XH_SIMDOM" --name "$D" \
	--image "$XH_DIR/images/$D.img" --incarnation "$inc" --hold-mb 1 --dirty-kib-s 16 \
	--record-ms 50 --node "$other" --generation "$gen")
[ -n "$rpid" ] || xh_fail "could not start the rogue copy"
sleep 1
rogue_wrote() { grep -q "inc=$inc " "$XH_DIR/images/$D.img"; }
xh_wait_until 5 "rogue records in $D.img" rogue_wrote || xh_fail "the rogue copy wrote nothing"
_xh_ours "$rpid" "--incarnation $inc" || xh_fail "rogue pid $rpid is gone early (see $XH_DIR/h$other/log/rogue-$D.log)"
# the harness's own single-copy check must see it too
if xh_check_copies 1 2>/dev/null; then
	kill -9 "$rpid"
	xh_fail "xh_check_copies did not notice two processes of $D"
fi
[ "$(xh_sim_count "$D")" = 2 ] || xh_fail "xh_sim_count $D = $(xh_sim_count "$D"), expected 2"
kill -9 "$rpid"
_xh_wait_gone "$rpid" 50 || xh_fail "rogue pid $rpid did not die"
xh_log "rogue copy stopped"

out=$(xh_oracle 2>&1)
rc=$?
[ "$rc" = 1 ] || xh_fail "oracle exit $rc, expected 1 (split brain)"
echo "$out" | grep -q "domain=$D " || xh_fail "oracle did not name domain $D"
xh_pass expect-split-brain    # prints the oracle's report
