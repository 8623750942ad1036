#!/bin/bash
# Fencing case d (only xenha-fenced frozen): SIGSTOP to h2's xenha-fenced
# alone.  corosync and xenhad on h2 keep working, but nothing pets h2's
# watchdog: it powers h2 off, and the survivors recover its domains once.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case fd_freeze_fenced

xh_fence_up 3 || xh_fail "cluster with fencing did not come up"
on2=$(xh_doms_on 1 2)
[ -n "$on2" ] || xh_fail "no domain runs on h2"
t0=${EPOCHREALTIME/[.,]/}
pid=$(xh_fenced_pid 2) || xh_fail "no fenced on h2"
kill -STOP "$pid"
xh_log "h2's xenha-fenced (pid $pid) frozen"
xh_wait_until 20 "h2's watchdog fired" xh_testwd_fired 2 || { kill -CONT "$pid"; xh_fail "h2's watchdog did not fire"; }
xh_log "h2 fenced by its watchdog $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the freeze"
# shellcheck disable=SC2086
xh_wait_until 30 "h2's domains running once on h1/h3" xh_recovered 1 2 $on2 ||
	xh_fail "h2's domains not recovered"
xh_log "recovered $(_xh_fmt_us $((XH_WAIT_END_US - t0)))s after the freeze"
xh_check_copies 1 || xh_fail "single-copy check after the recovery"
xh_pass
