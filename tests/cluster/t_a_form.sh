#!/bin/bash
# Case a (form): 3 hosts; 20 HA domains with mixed memory and anti-affinity
# groups that need all three hosts.  Every domain runs once, on the host the
# state says; no host is over-committed; no group twice on a host; all hosts
# show the same placements; hactl is refused to an unprivileged user and
# allowed to one with group haclient.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
xh_case a_form

usable=$((XH_SIM_MEMORY_MB - XH_MEM_RESERVED_MB))

xh_up 3 || xh_fail "cluster did not come up"
xh_log "adding 20 domains"
xh_add_std20 1 || xh_fail "domain add refused"
xh_wait_until 60 "20 domains running" xh_all_running 1 20 || xh_fail "not all 20 domains running"
xh_log "all running after ${XH_WAITED}s"
json=$(xh_domains_json 1) || xh_fail "hactl domains on h1"

# memory per host: sum(memory + overhead) <= usable; every host used
while read -r host used n; do
	xh_log "$host: $n domains, $used MiB of $usable"
	[ "$used" -le "$usable" ] || xh_fail "$host over-committed: $used MiB > $usable MiB"
done < <(echo "$json" | jq -r --argjson o "$XH_DOM_OVERHEAD_MB" '
	.domains | group_by(.host)[] | "\(.[0].host) \(map(.memory_mb + $o) | add) \(length)"')
nhosts=$(echo "$json" | jq '[.domains[].host] | unique | length')
[ "$nhosts" = 3 ] || xh_fail "domains use $nhosts hosts, expected all 3"

# anti-affinity: no group twice on one host
dup=$(echo "$json" | jq -r '[.domains[] | select(.group != "" and .group != null)]
	| group_by([.host, .group])[] | select(length > 1) | "\(.[0].group)@\(.[0].host)"')
[ -z "$dup" ] || xh_fail "anti-affinity broken: $dup"

# same view everywhere (h2, h3 may need a moment to apply the last reports)
same_views() {
	local a b c
	a=$(xh_dom_tuples 1) && b=$(xh_dom_tuples 2) && c=$(xh_dom_tuples 3) || return 1
	[ "$a" = "$b" ] && [ "$a" = "$c" ] && [ "$(echo "$a" | wc -l)" = 20 ]
}
if ! xh_wait_until 5 "identical domain views on h1 h2 h3" same_views; then
	for i in 1 2 3; do echo "h$i:"; xh_dom_tuples "$i" | sed 's/^/  /'; done
	xh_fail "hosts disagree on the placements"
fi

# one live process per domain, on its host, matching the pid file
xh_check_copies 1 || xh_fail "single-copy check"
n=$(xh_sim_procs | wc -l)
[ "$n" = 20 ] || xh_fail "$n sim processes for 20 domains"
n=$(xh_sim_pidfiles | wc -l)
[ "$n" = 20 ] || xh_fail "$n live pid files for 20 domains"

# IPC permissions: nobody without groups is refused (exit 4), nobody with
# primary group haclient is served
gid=$(getent group haclient | cut -d: -f3)
[ -n "$gid" ] || xh_fail "no group haclient"
xh_exec 1 setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$XH_HACTL" ||
	xh_fail "uid 65534 cannot execute $XH_HACTL (build tree not readable?)"
xh_exec 1 setpriv --reuid=65534 --regid=65534 --clear-groups "$XH_HACTL" status </dev/null >/dev/null 2>&1
rc=$?
[ "$rc" = 4 ] || xh_fail "hactl status as uid 65534 without groups: exit $rc, expected 4"
xh_exec 1 setpriv --reuid=65534 --regid="$gid" --clear-groups "$XH_HACTL" status </dev/null >/dev/null 2>&1
rc=$?
[ "$rc" = 0 ] || xh_fail "hactl status as uid 65534 with gid haclient: exit $rc, expected 0"
out=$(xh_exec 1 setpriv --reuid=65534 --regid="$gid" --clear-groups "$XH_HACTL" --json domains </dev/null 2>/dev/null |
	jq '.domains | length')
[ "$out" = 20 ] || xh_fail "hactl --json domains as haclient member lists ${out:-nothing}, expected 20"

# a fourth member of group gd (d07..d09 run one per host) cannot be placed:
# it stays stopped, and every host's `hactl domains` says why
xh_hactl 1 domain add a4th --memory 128 --group gd >/dev/null || xh_fail "domain add a4th"
why_shown() {
	xh_hactl "$1" --json domains a4th | xh_jqe '.domains[0].state == "stopped"
		and (.domains[0].reason | test("^cannot be placed: anti-affinity group gd"))' >/dev/null
}
for i in 1 2 3; do
	xh_wait_until 10 "h$i says why a4th is not placed" why_shown "$i" ||
		xh_fail "h$i: a4th $(xh_dom "$i" a4th)"
done
xh_hold 2 "a4th stays stopped" why_shown 1 || xh_fail "a4th was placed against its anti-affinity group"
xh_hactl 1 domain remove a4th >/dev/null || xh_fail "domain remove a4th"

xh_pass
