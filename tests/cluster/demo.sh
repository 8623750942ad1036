#!/bin/bash
# demo.sh - a 3-host xenha demo cluster in network namespaces (sim
# hypervisor: the "domains" are test-double processes, not Xen guests).
#
# Usage: tests/cluster/demo.sh up | down | hactl I ARGS... | exec I CMD...
#   up      start 3 hosts (prefix xhdemo, 198.18.2.0/24), add a few HA
#           domains, wait until they run, show `hactl status` on h1
#   down    stop everything by recorded PID and remove the namespaces
#   hactl   hactl on demo host I;  exec: any command inside host I
# Everything else (cut, poweroff, part, logs, oracle ...) works through
#   XH_PREFIX=xhdemo tests/cluster/xcluster COMMAND
# Environment: XENHA_BUILD (the build tree), see tests/cluster/lib.sh.
set -u
export XH_PREFIX=${XH_PREFIX:-xhdemo}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

demo_up() {
	local spec n m g rest args
	if ! xh_up 3; then
		xh_dump_logs 20
		xh_down
		return 1
	fi
	spec='web1 512 web
web2 512 web
web3 512 web
db1 1024 db --priority 10
db2 1024 db --priority 10
mail 768 - --prefer h2
build 256 - --restart on-crash'
	while read -r n m g rest; do
		args=(domain add "$n" --memory "$m")
		[ "$g" = - ] || args+=(--group "$g")
		# shellcheck disable=SC2206 # rest holds options
		[ -z "$rest" ] || args+=($rest)
		xh_hactl 1 "${args[@]}" >/dev/null ||
			{ xh_err "hactl domain add $n failed"; return 1; }
	done <<< "$spec"
	xh_wait_until 60 "demo domains running" xh_all_running 1 7 || return 1
	xh_hactl 1 status
	cat <<-EOF

	demo cluster $XH_PREFIX is up: hosts h1..h3 = $XH_NET.11-13 (namespaces $XH_PREFIX-h1..3)
	  $here/demo.sh hactl 1 domains          hactl inside host 1
	  XH_PREFIX=$XH_PREFIX $here/xcluster poweroff 3     pull the plug on h3
	  XH_PREFIX=$XH_PREFIX $here/xcluster logs           daemon logs
	  $here/demo.sh down                     stop it all
	EOF
}

cmd=${1:-}
shift || true
case $cmd in
up) demo_up ;;
down) xh_down ;;
hactl) [ $# -ge 1 ] || exit 2; i=$1; shift; xh_hactl "$i" "$@" ;;
exec) [ $# -ge 2 ] || exit 2; i=$1; shift; xh_exec "$i" "$@" ;;
*) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
