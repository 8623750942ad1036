#!/usr/bin/env python3
"""tests/xen/tls-stream-check.py - were a captured TLS 1.3 stream's records
intact on the wire?

A Xen lab diagnostic (docs/testing.md, scenario b): xenha's migration
target refused a record of the stream ("a record failed its integrity
check").  This reads a full-payload pcap (tcpdump -s 0) of the TCP
connections to PORT and the NSS key log the TLS library wrote
(SSLKEYLOGFILE), decrypts every record of both directions with the traffic
keys, and reports for each direction how many records decrypted and the
first one that did not, with its stream offset and capture time.  A record
that fails here was already wrong on the wire (the sender's side or the
link changed it); a stream whose records all decrypt here while the
receiver refused one was changed after the capture point, inside the
receiving host.

Only what the lab needs: Ethernet/IPv4/TCP, TLS 1.3, the three TLS 1.3
cipher suites, key updates.  Needs python3-cryptography.

usage: tls-stream-check.py PCAP KEYLOG [PORT]   (PORT default 7405)
exit: 0 every record of every stream decrypted, 1 some record did not,
      2 usage error or nothing to check, 3 every record up to a gap in the
      capture (packets tcpdump dropped) decrypted
"""
import struct
import sys
import time

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
    from cryptography.exceptions import InvalidTag
except ImportError:
    sys.exit("tls-stream-check: needs python3-cryptography (apt-get install python3-cryptography)")

SUITES = {  # id: (name, AEAD class, key length, hash)
    0x1301: ("TLS_AES_128_GCM_SHA256", AESGCM, 16, hashes.SHA256),
    0x1302: ("TLS_AES_256_GCM_SHA384", AESGCM, 32, hashes.SHA384),
    0x1303: ("TLS_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, 32, hashes.SHA256),
}


def read_pcap(path, port):
    """TCP payloads to or from port: {(src, sport, dst, dport): [(t, seq, payload)]}
    and the SYN's sequence number of each direction."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            sys.exit("tls-stream-check: %s: not a pcap file" % path)
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            end = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            end = ">"
        else:
            sys.exit("tls-stream-check: %s: not a pcap file (pcapng is not read)" % path)
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        if struct.unpack(end + "I", head[20:24])[0] != 1:
            sys.exit("tls-stream-check: %s: link type is not Ethernet" % path)
        flows, isn = {}, {}
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            ts, tfrac, incl, orig = struct.unpack(end + "IIII", h)
            d = f.read(incl)
            if incl < orig:
                sys.exit("tls-stream-check: %s: packets were cut (capture with tcpdump -s 0)" % path)
            if len(d) < 34 or d[12:14] != b"\x08\x00":
                continue
            ip = d[14:]
            ihl = (ip[0] & 15) * 4
            if ip[9] != 6:
                continue
            tot = struct.unpack(">H", ip[2:4])[0]
            tcp = ip[ihl:tot]
            sp, dp, seq = struct.unpack(">HHI", tcp[:8])
            if port not in (sp, dp):
                continue
            key = (".".join(map(str, ip[12:16])), sp, ".".join(map(str, ip[16:20])), dp)
            flags = tcp[13]
            off = (tcp[12] >> 4) * 4
            t = ts + tfrac / (1e9 if nano else 1e6)
            if flags & 0x02:  # SYN
                isn[key] = (seq + 1) & 0xFFFFFFFF
            pay = bytes(tcp[off:])
            if pay:
                flows.setdefault(key, []).append((t, seq, pay))
        return flows, isn


def assemble(pkts, start):
    """The byte stream from sequence number start: (bytes, [(offset, time)],
    offset of the first hole or None).  A retransmission that differs from
    the first copy is reported."""
    segs = {}
    for t, seq, pay in pkts:
        o = (seq - start) & 0xFFFFFFFF
        if o >= 0x80000000:
            continue  # before the start
        old = segs.get(o)
        if old is not None:
            n = min(len(old[1]), len(pay))
            if old[1][:n] != pay[:n]:
                print("  retransmission at offset %d differs from the first copy" % o)
            if len(pay) <= len(old[1]):
                continue
        segs[o] = (t, pay)
    out, times, pos, hole = bytearray(), [], 0, None
    for o in sorted(segs):
        t, pay = segs[o]
        if o > pos:
            hole = pos
            break
        if o + len(pay) <= pos:
            continue
        times.append((pos, t))
        out += pay[pos - o:]
        pos = len(out)
    return bytes(out), times, hole


def when(times, off):
    t = None
    for o, tt in times:
        if o > off:
            break
        t = tt
    return t


def clock(t):
    if t is None:
        return "?"
    return time.strftime("%H:%M:%S", time.gmtime(t)) + ("%.6f" % (t % 1))[1:]


def hkdf_label(h, secret, label, length, context=b""):
    full = b"tls13 " + label
    info = struct.pack(">HB", length, len(full)) + full + struct.pack(">B", len(context)) + context
    return HKDFExpand(algorithm=h(), length=length, info=info).derive(secret)


class Keys:
    def __init__(self, suite, secret):
        self.name, self.aead, self.klen, self.h = SUITES[suite]
        self.set(secret)

    def set(self, secret):
        self.secret = secret
        self.key = self.aead(hkdf_label(self.h, secret, b"key", self.klen))
        self.iv = hkdf_label(self.h, secret, b"iv", 12)
        self.seq = 0

    def update(self):
        hl = self.h.digest_size
        self.set(hkdf_label(self.h, self.secret, b"traffic upd", hl))

    def open(self, header, body):
        nonce = bytes(a ^ b for a, b in zip(self.iv, (b"\0" * 4) + struct.pack(">Q", self.seq)))
        plain = self.key.decrypt(nonce, body, header)
        self.seq += 1
        plain = plain.rstrip(b"\0")
        return plain[-1], plain[:-1]


def records(data):
    """(offset, type, header, body) of each whole record; the offset where a
    cut last record starts, or None."""
    pos = 0
    while pos + 5 <= len(data):
        typ, ver, ln = struct.unpack(">BHH", data[pos:pos + 5])
        if pos + 5 + ln > len(data):
            return pos
        yield pos, typ, data[pos:pos + 5], data[pos + 5:pos + 5 + ln]
        pos += 5 + ln
    return None


def hello_random_and_suite(data, client):
    """client_random (from the ClientHello) or the cipher suite (ServerHello)."""
    for off, typ, hdr, body in records(data):
        if typ != 22:
            continue
        if client and body[0] == 1:
            return body[6:38]
        if not client and body[0] == 2:
            sid_len = body[38]
            return struct.unpack(">H", body[39 + sid_len:41 + sid_len])[0]
        break
    return None


def handshake_types(plain):
    """The types of the handshake messages in a decrypted record."""
    out, pos = [], 0
    while pos + 4 <= len(plain):
        out.append(plain[pos])
        pos += 4 + int.from_bytes(plain[pos + 1:pos + 4], "big")
    return out


def check_direction(label, data, times, hs_secret, app_secret, suite):
    hs, app = Keys(suite, hs_secret), Keys(suite, app_secret)
    cur, phase, n = hs, "handshake", 0
    gen = records(data)
    while True:
        try:
            off, typ, hdr, body = next(gen)
        except StopIteration as e:
            cut = e.value
            break
        if typ in (20, 22) and phase == "handshake":
            continue  # plaintext hello, change_cipher_spec (compatibility)
        if typ != 23:
            print("  %s: record at offset %d: unexpected plaintext type %d" % (label, off, typ))
            return False
        try:
            inner, plain = cur.open(hdr, body)
        except InvalidTag:
            t = when(times, off)
            print("  %s: FAILED at record %d (%s keys, seq %d), stream offset %d, length %d, "
                  "captured at %s UTC: the record was not intact on the wire"
                  % (label, n, phase, cur.seq, off, len(body), clock(t)))
            return False
        n += 1
        msgs = handshake_types(plain) if inner == 22 else []
        if phase == "handshake" and 20 in msgs:
            cur, phase = app, "application"  # Finished: the traffic keys follow
        elif phase == "application" and 24 in msgs:
            cur.update()  # KeyUpdate
    print("  %s: %d records decrypted, all intact%s" % (
        label, n, "" if cut is None else " (the last record, at offset %d, was cut off)" % cut))
    return True


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.split("\n\n")[-2])
    port = int(sys.argv[3]) if len(sys.argv) == 4 else 7405
    flows, isn = read_pcap(sys.argv[1], port)
    secrets = {}
    with open(sys.argv[2]) as f:
        for line in f:
            w = line.split()
            if len(w) == 3 and not w[0].startswith("#"):
                secrets[(w[0], bytes.fromhex(w[1]))] = bytes.fromhex(w[2])
    ok, checked, gaps = True, 0, False
    for c2s in sorted(k for k in flows if k[3] == port):
        s2c = (c2s[2], c2s[3], c2s[0], c2s[1])
        if c2s not in isn or s2c not in isn:
            print("connection %s:%d -> %s:%d: its SYN was not captured, skipped" % c2s)
            continue
        cdata, ctimes, chole = assemble(flows[c2s], isn[c2s])
        sdata, stimes, shole = assemble(flows.get(s2c, []), isn[s2c])
        print("connection %s:%d -> %s:%d: %d bytes sent, %d bytes back" % (c2s + (len(cdata), len(sdata))))
        for lbl, hole in (("client", chole), ("server", shole)):
            if hole is not None:
                print("  %s: the capture misses bytes at offset %d (checked up to there)" % (lbl, hole))
                gaps = True
        crandom = hello_random_and_suite(cdata, True)
        suite = hello_random_and_suite(sdata, False)
        if crandom is None or suite not in SUITES:
            print("  no TLS 1.3 ClientHello/ServerHello found, skipped")
            continue
        need = ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0")
        if any((k, crandom) not in secrets for k in need):
            print("  the key log has no secrets for this connection, skipped")
            continue
        print("  cipher suite %s" % SUITES[suite][0])
        checked += 1
        ok &= check_direction("client -> server", cdata, ctimes, secrets[(need[0], crandom)],
                              secrets[(need[1], crandom)], suite)
        ok &= check_direction("server -> client", sdata, stimes, secrets[(need[2], crandom)],
                              secrets[(need[3], crandom)], suite)
    if checked == 0:
        print("tls-stream-check: no connection to port %d could be checked" % port)
        return 2
    return 1 if not ok else 3 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
