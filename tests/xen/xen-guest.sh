# tests/xen/xen-guest.sh - the Xen lab's scenarios with the xen driver (XEN_HV=xen),
# shellcheck shell=bash
# sourced by run.sh once xenha runs on every host: a PV guest serving HTTP
# (/root/domu/web.cfg of the dom0 image) as an HA domain of xenha.
#   a. hactl domain add -> it boots on x0 and answers HTTP
#   b. hactl migrate to the next host -> it keeps answering; the client-side
#      downtime (the longest gap between answers of a poller in the namespace)
#   e. hactl node standby of its host -> drained by live migration, answers HTTP
#   c. the host running it powered off -> after fencing it runs on a
#      survivor and answers again; one copy (xl list on the survivors)
# Uses run.sh's check, on, wait_for, X, now, since, host_kill; run.sh's
# teardown stops the poller (by its PID file) if a scenario is cut short.

GIP=$NET_H.50
POLL_LOG=$RUN/http-poll.log POLL_PID=$RUN/http-poll.pid

page() { X timeout 10 wget -q -T 5 -O- "http://$GIP/" 2>/dev/null; }
http() { page | grep -q "xenha lab guest"; }
# the guest's boot number, counted on its disk (the data LUN): live migration
# keeps it, a restart on another host adds one
boot_no() { page | sed -n 's/^xenha lab guest .* boot \([0-9][0-9]*\)$/\1/p'; }
# where xenha runs web: asked of the first host that answers (x0 may be gone)
web_host() {
	local i j
	for ((i = 0; i < N; i++)); do
		[ "${SKIP:-}" = "$i" ] && continue
		j=$(ON_TIMEOUT=30 on "$i" 'hactl --json domains' 2>/dev/null) || continue
		jq -r '.domains[] | select(.name == "web") | select(.state == "running") | .host // empty' <<< "$j"
		return 0
	done
	return 1
}
# web_on I: xenha has web running on xI and Xen runs it there
web_on() { [ "$(web_host)" = "x$1" ] && on "$1" 'xl list web' >/dev/null 2>&1; }
# xl_copies I...: how many of these hosts' Xen run a domain named web
xl_copies() { local i k=0; for i in "$@"; do on "$i" 'xl list web' >/dev/null 2>&1 && k=$((k + 1)); done; echo "$k"; }

# An HTTP poller in the namespace: one request every 0.1 s (XEN_POLL_S; 1 s timeout),
# "MS ok|fail" per line; bounded (6000 requests) and stopped by PID.
poll_start() {
	rm -f "$POLL_LOG" "$POLL_LOG.stop"
	# not through X (a function, so a forked shell): $! must be the poller
	# shellcheck disable=SC2016 # the loop expands its own arguments
	ip netns exec "$NS" setsid bash -c 'for ((i = 0; i < 6000; i++)); do
		[ -e "$2" ] && break
		t=$(date +%s%3N)
		if timeout 2 wget -q -T 1 -O- "http://$1/" >/dev/null 2>&1; then echo "$t ok"; else echo "$t fail"; fi
		sleep "$3"
	done' poller "$GIP" "$POLL_LOG.stop" "${XEN_POLL_S:-0.1}" >"$POLL_LOG" 2>/dev/null </dev/null &
	echo $! >"$POLL_PID"
}
poll_stop() {
	touch "$POLL_LOG.stop"
	stop_pidfile "$POLL_PID" poller
}
# the longest gap in ms between two answers (or from the last answer to the end
# of the log, if it ends without one), and the failed requests
poll_gap() { awk '$2 == "ok" { if (last && $1 - last > gap) gap = $1 - last; last = $1 } $2 == "fail" { f++ }
	{ t = $1 } END { if (last && t - last > gap) gap = t - last
		printf "%d ms (%d requests failed of %d)", gap, f, NR }' "$POLL_LOG"; }

# ------------------------------------------------------------ a: domain add
s=$(now)
on 0 "sed 's/^extra = .*/extra = \"console=hvc0 xip=$GIP\"/' /root/domu/web.cfg > /root/domu/webha.cfg &&
	hactl domain add web --memory 128 --prefer x0 --config /root/domu/webha.cfg" | sed 's/^/  /'
check "a: hactl domain add web -> the PV guest boots on x0 and answers HTTP" "$s" wait_for 240 "http" http
echo "figure: a: HTTP answered ${WAITED} s after hactl domain add"
on 0 'hactl domains; xl list' | sed 's/^/  /'
check "a: xenha and Xen agree: web runs on x0" "$s" web_on 0
boot_a=$(boot_no)
echo "  a: the guest's page says boot ${boot_a:-?} (counted on the data LUN)"

# ---------------------------------------------------------- b: live migrate
# from where it runs (x0 after a) to the next host; XEN_B_WAIT=S waits S seconds
# first (a diagnostic knob: runs 10-12 aborted this migration, run 12 after 60 s)
if [ "${XEN_B_WAIT:-0}" -gt 0 ]; then echo "  b: waiting ${XEN_B_WAIT} s (XEN_B_WAIT)"; sleep "$XEN_B_WAIT"; fi
src=$(web_host); src=${src#x}
[[ $src =~ ^[0-2]$ ]] || src=0
dst=$(((src + 1) % N))
rest=""
for ((k = 0; k < N; k++)); do [ "$k" = "$dst" ] || rest="$rest $k"; done
s=$(now)
# XEN_B_CAPTURE=1 (a diagnostic knob): tcpdump on the management bridge during
# b (ARP, ssh, HTTP, the migration port; whole packets) to $RUN/b.pcap, and
# both ends' ARP and bridge tables before and after, to $RUN/b-tables.log; the
# xenhads log their TLS secrets (run.sh), so tls-stream-check.py can say
# whether the migration stream's records were intact on the wire
cap_tables() {
	{ echo "== $1: namespace"; X ip neigh show dev brH; X bridge fdb show br brH | grep -v permanent
	  for k in "$src" "$dst"; do echo "== $1: x$k"; on "$k" 'ip neigh; bridge fdb show br xenbr0 | grep -v permanent; ip -s link show xenbr0; tail -n 40 /var/log/sshd.log' 2>&1; done
	} >>"$RUN/b-tables.log"
}
if [ "${XEN_B_CAPTURE:-0}" = 1 ]; then
	rm -f "$RUN/b.pcap" "$RUN/b-tables.log"
	cap_tables before
	ip netns exec "$NS" setsid tcpdump -i brH -s 0 -w "$RUN/b.pcap" 'arp or tcp port 22 or tcp port 80 or tcp port 7405' \
		>"$RUN/b-tcpdump.log" 2>&1 </dev/null &
	echo $! >"$RUN/b-tcpdump.pid"
	sleep 1
fi
# XEN_B_BULK=1 (a diagnostic knob): does this platform move bytes intact from
# x$src's dom0 to x$dst's?  XEN_B_BULK_MB (64) MiB of random data by socat,
# SHA-256 at both ends, once before the poller starts and once while it runs
# (b's stream failed TLS's integrity check only while the poller ran, runs
# 13-14).  Figures only, no check: it says whether the lab or xenha is at fault.
bulk_copy() { # LABEL
	local mb=${XEN_B_BULK_MB:-64} pid want got t0
	rm -f "$RUN/bulk-src.sum" "$RUN/bulk-dst.sum"
	ON_TIMEOUT=200 on "$src" "head -c ${mb}M /dev/urandom > /tmp/xh-bulk && sha256sum < /tmp/xh-bulk" \
		>"$RUN/bulk-src.sum" 2>&1 || { echo "  b-platform $1: cannot make the file on x$src"; return 0; }
	ON_TIMEOUT=200 on "$dst" "timeout 180 socat -u TCP-LISTEN:7999,reuseaddr - | sha256sum" \
		>"$RUN/bulk-dst.sum" 2>&1 &
	pid=$!
	sleep 3
	t0=$(now)
	ON_TIMEOUT=200 on "$src" "timeout 180 socat -u FILE:/tmp/xh-bulk TCP:$(ip_of "$dst"):7999; rm -f /tmp/xh-bulk" \
		2>&1 | sed 's/^/  b-platform: /'
	wait "$pid"   # bounded: timeout 180 there, 200 here
	want=$(cut -d' ' -f1 "$RUN/bulk-src.sum"); got=$(cut -d' ' -f1 "$RUN/bulk-dst.sum")
	if [ -n "$want" ] && [ "$want" = "$got" ]; then got="intact"; else got="CORRUPTED (sha256 sent ${want:-?}, received ${got:-?})"; fi
	echo "figure: b-platform: $mb MiB x$src -> x$dst by TCP $1: $got ($(since "$t0") s)"
}
# And do x$src's dom0 user-space vector registers keep their values while the
# guest runs beside it (simd-check.c: AVX where the host CPU has it, else SSE)?
simd_check() { # LABEL
	local r
	r=$(ON_TIMEOUT=120 on "$src" "/mnt/xh/simd-check ${XEN_B_SIMD_S:-20}" 2>&1 | tail -1)
	echo "figure: b-platform: x$src dom0 vector registers $1: ${r#simd-check: }"
}
if [ "${XEN_B_BULK:-0}" = 1 ]; then
	if ! ${CC:-cc} -O2 -o "$SHARE/simd-check" "$XEN_DIR/simd-check.c"; then
		echo "  b-platform: cannot build simd-check.c with ${CC:-cc}"
	fi
	bulk_copy "without the poller"
	simd_check "without the poller"
	poll_start
	bulk_copy "while the poller runs"
	simd_check "while the poller runs"
	poll_stop   # b's downtime figure comes from a poller of its own
fi
poll_start
if [ "${XEN_B_CAPTURE:-0}" = 1 ]; then
	sleep 2   # runs 8 and 9: ssh to the guest's host was refused while the poller ran
	{ echo "== ssh to x$src with the poller running"
	  ON_TIMEOUT=30 on "$src" 'echo ssh ok' 2>&1 || echo "ssh failed: exit $?"; } >>"$RUN/b-tables.log"
fi
# hactl on the target: ssh logins to the host that runs the guest were refused
# (publickey) while the poller ran, in runs 8 and 9 - not understood yet
out=$(on "$dst" "hactl --timeout 600 migrate web x$dst" 2>&1)
rc=$?
sleep 3
poll_stop
if [ "${XEN_B_CAPTURE:-0}" = 1 ]; then
	stop_pidfile "$RUN/b-tcpdump.pid" "tcpdump -i brH"
	cap_tables after
	echo "  b: capture in $RUN/b.pcap ($(stat -c %s "$RUN/b.pcap" 2>/dev/null) bytes), tables in $RUN/b-tables.log"
	cat "$SHARE"/log/x*/tls-keys.log >"$RUN/b-tls-keys.log" 2>/dev/null
	echo "  b: the migration stream on the wire (tls-stream-check.py):"
	python3 "$XEN_DIR/tls-stream-check.py" "$RUN/b.pcap" "$RUN/b-tls-keys.log" 2>&1 | sed 's/^/    /'
fi
echo "$out" | tail -3 | sed 's/^/  hactl: /'
echo "  hactl migrate exit status $rc"
echo "figure: b: client-side downtime (longest gap between HTTP answers, 0.1 s polling): $(poll_gap)"
# shellcheck disable=SC2086 # the other hosts' numbers
migrated() { [ "$rc" = 0 ] && web_on "$dst" && [ "$(xl_copies $rest)" = 0 ]; }
check "b: hactl migrate web x$src -> x$dst: runs on x$dst (xenha and xl list), on no other host" "$s" migrated
check "b: it answers HTTP (web on $(web_host))" "$s" wait_for 30 "http" http
sameboot() { local b; b=$(boot_no); [ -n "$boot_a" ] && [ "$b" = "$boot_a" ]; }
check "b: not rebooted: the page still says boot $boot_a" "$s" sameboot

# ------------------------------------------------- e: standby drains its host
v=$(web_host); v=${v#x}
[[ $v =~ ^[0-2]$ ]] || v=$dst
s=$(now)
out=$(on "$v" "hactl --timeout 600 node standby x$v" 2>&1)
echo "$out" | tail -3 | sed 's/^/  hactl: /'
drained() { local h; h=$(web_host); [ -n "$h" ] && [ "$h" != "x$v" ] && web_on "${h#x}" && [ "$(xl_copies "$v")" = 0 ]; }
check "e: hactl node standby x$v -> web live-migrated off x$v" "$s" wait_for 300 "drained" drained
echo "figure: e: drained ${WAITED} s after hactl node standby returned; web on $(web_host)"
check "e: it answers HTTP" "$s" wait_for 30 "http" http
check "e: not rebooted: the page still says boot $boot_a" "$s" sameboot
on "$v" "hactl node online x$v" | sed 's/^/  /'

# ------------------------------------------- c: power off the host running it
if [ "${XEN_SCENARIO_C:-1}" = 1 ]; then
	v=$(web_host)
	v=${v#x}
	[[ $v =~ ^[0-2]$ ]] || v=0
	others=""
	for ((k = 0; k < N; k++)); do [ "$k" = "$v" ] || others="$others $k"; done
	s=$(now)
	host_kill "$v"
	# shellcheck disable=SC2034 # run.sh's on_all skips it
	SKIP=$v
	check "c: x$v (running web) powered off -> web answers HTTP again from a survivor" "$s" wait_for 300 "http back" http
	echo "figure: c: HTTP answered again ${WAITED} s after x$v's power-off"
	# shellcheck disable=SC2086 # the survivors' numbers
	set -- $others
	on "$1" "hactl history | grep -E 'x$v|web' | tail -6" | sed 's/^/  /'
	# shellcheck disable=SC2086 # the survivors' numbers
	one() { [ "$(xl_copies $others)" = 1 ]; }
	check "c: exactly one copy of web on the survivors (xl list)" "$s" one
	nextboot() { local b; b=$(boot_no); [ -n "$boot_a" ] && [ "$b" = "$((boot_a + 1))" ]; }
	check "c: restarted from the same disk: the page says boot $((${boot_a:-0} + 1))" "$s" nextboot
	echo "  c: the guest's page: $(page)"
fi
