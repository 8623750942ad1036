#!/bin/sh
# A fence agent for the fenceagent unit tests, in fence-agents style: no
# arguments; "key=value" lines on stdin; exit 0 on success; for
# action=status exit 0 if on, 2 if off, 1 on error.  It powers nothing:
# the "power state" of each plug is a file.
#
# Keys (besides action and plug, which xenha sets):
#   state=DIR   directory of plug state files (DIR/PLUG holds on or off)
#   log=FILE    append "ACTION PLUG" for every run
#   mode=ok             off/on change the state file; status reports it
#   mode=fail           every action fails (exit 1, a message on stderr)
#   mode=lies-on-status off says done but changes nothing; status: on
#   mode=off-late       status says on N times (count=N) before off
#   mode=hang           never ends (SIGTERM ends it)
#   mode=hang-hard      never ends and ignores SIGTERM (only SIGKILL)
#   mode=echo           copy stdin to stdout, exit 0
#   mode=flood          write 100 KiB to stdout, exit 0
#   mode=crash          killed by SIGKILL
set -u

action= plug= mode=ok state= log= count=0 input=
while IFS= read -r line; do
	input="$input$line
"
	case $line in
	action=*) action=${line#action=} ;;
	plug=*) plug=${line#plug=} ;;
	mode=*) mode=${line#mode=} ;;
	state=*) state=${line#state=} ;;
	log=*) log=${line#log=} ;;
	count=*) count=${line#count=} ;;
	esac
done

[ -n "$log" ] && echo "$action $plug" >>"$log"

case $mode in
echo)
	printf '%s' "$input"
	exit 0 ;;
flood)
	i=0
	while [ $i -lt 1600 ]; do
		echo "012345678901234567890123456789012345678901234567890123456789012"
		i=$((i + 1))
	done
	exit 0 ;;
hang)
	sleep 600 &
	wait
	exit 0 ;;
hang-hard)
	trap '' TERM
	sleep 600 &
	wait
	wait
	exit 0 ;;
crash)
	kill -KILL $$ ;;
fail)
	echo "fake agent: cannot reach the device" >&2
	exit 1 ;;
esac

get() { cat "$state/$plug" 2>/dev/null || echo on; }

case $action in
off)
	echo "fake agent: $plug off"
	[ "$mode" = lies-on-status ] || echo off >"$state/$plug"
	exit 0 ;;
on)
	echo on >"$state/$plug"
	exit 0 ;;
status)
	if [ "$mode" = off-late ]; then
		n=$(cat "$state/$plug.count" 2>/dev/null || echo 0)
		echo $((n + 1)) >"$state/$plug.count"
		[ "$n" -lt "$count" ] && { echo "Status: ON"; exit 0; }
	fi
	if [ "$mode" = lies-on-status ] || [ "$(get)" = on ]; then
		echo "Status: ON"
		exit 0
	fi
	echo "Status: OFF"
	exit 2 ;;
*)
	echo "fake agent: unknown action '$action'" >&2
	exit 1 ;;
esac
