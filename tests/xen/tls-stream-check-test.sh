#!/bin/bash
# tests/xen/tls-stream-check-test.sh - shows that tls-stream-check.py finds a
# changed byte, and passes an unchanged stream (root; needs tcpdump, openssl,
# python3 with the cryptography module).
#
# In a network namespace of its own (198.18.30.1 on lo), a Python TLS 1.3
# client sends 8 MiB to a Python TLS server over TCP while tcpdump captures
# the whole payload and the client writes its key log.  The checker must
# pass that capture (exit 0) and fail a copy of it with one byte of one
# TCP segment's payload flipped (exit 1, "FAILED").
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
NS=xhtlschk$$
ADDR=198.18.30.1
PORT=7405
T=$(mktemp -d /tmp/tlschk.XXXXXX) || { echo "tls-stream-check-test: mktemp failed"; exit 2; }
SRV='' CAP=''
cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	[ -n "$CAP" ] && kill -INT "$CAP" 2>/dev/null && wait "$CAP" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "SKIP: not root (needs a network namespace and tcpdump)"; exit 77; }
for t in tcpdump openssl python3; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
python3 -c 'import cryptography' 2>/dev/null || { echo "SKIP: no python3 cryptography module"; exit 77; }

fails=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fails=$((fails + 1)); }

ip netns add "$NS" || exit 2
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip addr add "$ADDR/32" dev lo
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=xh \
	-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || exit 2

ip netns exec "$NS" tcpdump -i lo -s 0 -B 65536 -U -w "$T/cap.pcap" "tcp port $PORT" 2>"$T/tcpdump.log" &
CAP=$!
for ((i = 0; i < 50; i++)); do grep -q listening "$T/tcpdump.log" && break; sleep 0.1; done

# shellcheck disable=SC2016 # Python, not shell
ip netns exec "$NS" timeout 60 python3 -c '
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ls = socket.create_server((sys.argv[3], int(sys.argv[4])))
print("ready", flush=True)
c, _ = ls.accept()
s = ctx.wrap_socket(c, server_side=True)
n = 0
while n < 8388608:
    b = s.recv(65536)
    if not b:
        break
    n += len(b)
s.sendall(b"got %d" % n)
s.close()
' "$T/cert.pem" "$T/key.pem" "$ADDR" "$PORT" >"$T/srv.out" 2>&1 &
SRV=$!
for ((i = 0; i < 50; i++)); do grep -q ready "$T/srv.out" && break; sleep 0.1; done

# shellcheck disable=SC2016 # Python, not shell
ip netns exec "$NS" timeout 60 python3 -c '
import socket, ssl, sys, os, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.keylog_filename = sys.argv[3]
s = ctx.wrap_socket(socket.create_connection((sys.argv[1], int(sys.argv[2]))))
for i in range(128):
    s.sendall(os.urandom(65536))
    time.sleep(0.002)   # so that tcpdump keeps up on a busy machine
print(s.recv(100).decode())
' "$ADDR" "$PORT" "$T/keys.log" >"$T/cli.out" 2>&1
wait "$SRV"; SRV=
sleep 0.5
kill -INT "$CAP"; wait "$CAP"; CAP=
if grep -q "got 8388608" "$T/cli.out"; then ok "8 MiB went over TLS 1.3"; else bad "transfer: $(cat "$T/cli.out" "$T/srv.out")"; fi

# expect WHAT PCAP RC PATTERN: the checker on PCAP exits RC and says PATTERN
expect() {
	local out rc
	out=$(python3 "$HERE/tls-stream-check.py" "$2" "$T/keys.log" "$PORT" 2>&1); rc=$?
	echo "$out" | sed 's/^/  /'
	if [ "$rc" = "$3" ] && grep -q "$4" <<<"$out"; then ok "$1"; else bad "$1: exit $rc"; fi
}
expect "the intact stream passes" "$T/cap.pcap" 0 "client -> server: [0-9]* records decrypted, all intact"

# flip one payload byte of the 20th client -> server data segment
python3 - "$T/cap.pcap" "$T/bad.pcap" "$PORT" <<'EOF'
import struct, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = bytearray(open(src, "rb").read())
pos, k = 24, 0
while pos + 16 <= len(d):
    incl = struct.unpack("<I", d[pos + 8:pos + 12])[0]
    p = pos + 16
    ip = p + 14
    ihl = (d[ip] & 15) * 4
    tcp = ip + ihl
    dport = struct.unpack(">H", d[tcp + 2:tcp + 4])[0]
    off = (d[tcp + 12] >> 4) * 4
    tot = struct.unpack(">H", d[ip + 2:ip + 4])[0]
    if dport == port and tot - ihl - off > 100:
        k += 1
        if k == 20:
            d[tcp + off + 50] ^= 0x01
            print("flipped a bit at byte 50 of segment", k)
            break
    pos = p + incl
open(dst, "wb").write(d)
EOF
expect "the changed byte is found" "$T/bad.pcap" 1 "client -> server: FAILED"
echo "tls-stream-check: $((3 - fails)) passed, $fails failed"
[ "$fails" = 0 ]
