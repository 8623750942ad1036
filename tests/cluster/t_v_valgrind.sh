#!/bin/bash
# Case v (valgrind): h1's xenhad and xenha-fenced run under valgrind
# (memcheck, full leak check) in a 3-host cluster with fencing while it
# forms, places domains, restarts a crashed domain, fences and recovers a
# powered-off host, takes it back and receives a live migration; then
# both daemons are stopped
# cleanly (SIGTERM) and their valgrind logs must show no error and no
# definitely lost block.  h1 is the coordinator and the acting survivor, so
# the busiest paths of both daemons run under valgrind.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case v_valgrind
command -v valgrind >/dev/null || xh_fail "valgrind is not installed"
export XH_VALGRIND="1"

xh_fence_up 3 || xh_fail "cluster with fencing (h1 under valgrind) did not come up"
xh_log "up; h1's daemons under valgrind"
d=$(xh_doms_on 1 2)
d=${d%% *}
pid=$(xh_simpid 2 "$d") || xh_fail "no process for $d on h2"
kill -KILL "$pid"
xh_wait_until 30 "$d running again" xh_recovered 1 0 "$d" || xh_fail "$d was not restarted"
xh_log "crashed domain $d restarted"

on3=$(xh_doms_on 1 3)
xh_poweroff 3 || xh_fail "poweroff h3"
# shellcheck disable=SC2086
xh_wait_until 60 "h3's domains running once on h1/h2" xh_recovered 1 3 $on3 ||
	xh_fail "h3's domains not recovered"
xh_log "h3 fenced, its domains recovered"
xh_poweron 3 || xh_fail "poweron h3"
xh_wait_up 3 60 || xh_fail "h3 did not rejoin"
xh_check_copies 1 || xh_fail "single-copy check"

# a live migration with h1 as the target: its listener, a connection
# thread, the job table and the reports run under valgrind (the sim
# domain may not start there under valgrind; then the receive fails and
# the domain stays on its source - one copy either way)
d=$(xh_doms_on 1 2)
d=${d%% *}
out=$(xh_hactl 2 --timeout 120 migrate "$d" h1 2>&1)
xh_log "migrate $d to h1 (under valgrind): exit $?: $(echo "$out" | tail -1)"
xh_wait_until 30 "$d running once" xh_recovered 1 0 "$d" || xh_fail "$d not running once after the migration"
xh_check_copies 1 || xh_fail "single-copy check after the migration"

# stop h1's daemons cleanly: fenced first (it disarms its watchdog on a
# clean stop), then xenhad; valgrind writes its report as they exit
fpid=$(xh_fenced_pid 1) || xh_fail "no xenha-fenced on h1"
xpid=$(xh_xenhad_pid 1) || xh_fail "no xenhad on h1"
kill -TERM "$fpid"
_xh_wait_gone "$fpid" 300 || xh_fail "xenha-fenced (valgrind) did not exit"
kill -TERM "$xpid"
_xh_wait_gone "$xpid" 300 || xh_fail "xenhad (valgrind) did not exit"
rm -f "$XH_DIR/h1/fenced.xhpid" "$XH_DIR/h1/xenhad.xhpid"

for what in xenhad fenced; do
	logs=$(ls "$XH_DIR"/h1/log/valgrind-"$what".*.log 2>/dev/null)
	[ -n "$logs" ] || xh_fail "no valgrind log for $what"
	for f in $logs; do
		# the -n checks and forks leave short logs of their own; the
		# daemon's is the one with a leak summary
		grep -q 'LEAK SUMMARY\|All heap blocks were freed' "$f" || continue
		grep -E 'ERROR SUMMARY|definitely lost|All heap blocks' "$f" | sed "s|^|  $what: |"
		grep -q 'ERROR SUMMARY: 0 errors' "$f" || { sed -n '1,80p' "$f"; xh_fail "valgrind errors in $what ($f)"; }
		if grep -q 'definitely lost:' "$f"; then
			grep -q 'definitely lost: 0 bytes' "$f" || { sed -n '1,80p' "$f"; xh_fail "$what leaks ($f)"; }
		fi
		found=1
	done
	[ "${found:-0}" = 1 ] || xh_fail "no complete valgrind report for $what"
	found=0
done
xh_pass
