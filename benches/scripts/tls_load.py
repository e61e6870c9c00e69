#!/usr/bin/env python3
"""SIP over TLS load for tls_side_by_side.sh (Debian's SIPp has no TLS).

    tls_load.py MODE TARGET COUNT CONNS

MODE is one of
  handshake  COUNT new TLS connections, CONNS at a time; each does the handshake, sends one
             OPTIONS, reads the answer and closes (the server's cost of a connection)
  register   COUNT REGISTERs (no auth, distinct users) over CONNS established connections, one
             outstanding per connection
  call       COUNT calls over CONNS caller/callee pairs of connections: each callee registers,
             then INVITE, 180, 200, ACK, BYE, 200 through the server on the same connections

TARGET is ip:port of the server's TLS listener. Prints one line, key=value:
  mode count ok failed seconds per_second
The client does not verify the certificate (it measures the server, not PKI).
"""

import asyncio
import random
import ssl
import sys
import time

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
CTX.minimum_version = ssl.TLSVersion.TLSv1_2


class Conn:
    def __init__(self, r, w):
        self.r, self.w = r, w
        self.local = w.get_extra_info("sockname")

    @classmethod
    async def open(cls, host, port):
        r, w = await asyncio.open_connection(host, port, ssl=CTX)
        return cls(r, w)

    def send(self, text):
        self.w.write(text.encode())

    async def recv(self):
        """One SIP message: (first line, headers as a list of (name, value), body)."""
        head = await self.r.readuntil(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        while lines and lines[0] == "":  # keep-alive CRLFs
            lines.pop(0)
        first, headers, length = lines[0], [], 0
        for l in lines[1:]:
            if not l:
                continue
            n, _, v = l.partition(":")
            n, v = n.strip(), v.strip()
            headers.append((n, v))
            if n.lower() in ("content-length", "l"):
                length = int(v)
        body = await self.r.readexactly(length) if length else b""
        return first, headers, body

    async def final(self, method):
        """The next final response to `method`."""
        while True:
            first, h, b = await self.recv()
            if not first.startswith("SIP/2.0 "):
                continue
            code = int(first.split()[1])
            if code >= 200 and get(h, "CSeq").endswith(method):
                return code, h, b

    def close(self):
        self.w.close()


def get(headers, name):
    short = {"via": "v", "from": "f", "to": "t", "call-id": "i", "contact": "m"}
    for n, v in headers:
        if n.lower() == name.lower() or n.lower() == short.get(name.lower()):
            return v
    return ""


def every(headers, name):
    return [v for n, v in headers if n.lower() == name.lower()]


def tag():
    return "%x" % random.getrandbits(48)


def via(c):
    return "Via: SIP/2.0/TLS %s:%d;branch=z9hG4bK%s;rport\r\n" % (c.local[0], c.local[1], tag())


def register(c, target, user, cseq=1):
    host = target[0]
    return (
        "REGISTER sip:%s:%d SIP/2.0\r\n%sMax-Forwards: 70\r\n"
        "From: <sip:%s@%s>;tag=%s\r\nTo: <sip:%s@%s>\r\nCall-ID: r%s\r\nCSeq: %d REGISTER\r\n"
        "Contact: <sip:%s@%s:%d;transport=tls>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
        % (host, target[1], via(c), user, host, tag(), user, host, tag(), cseq, user,
           c.local[0], c.local[1])
    )


SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


async def handshakes(target, count, conns):
    ok = 0
    left = count

    async def one():
        nonlocal ok, left
        while left > 0:
            left -= 1
            try:
                c = await Conn.open(*target)
                c.send(
                    "OPTIONS sip:%s:%d SIP/2.0\r\n%sMax-Forwards: 70\r\nFrom: <sip:p@%s>;tag=%s\r\n"
                    "To: <sip:%s>\r\nCall-ID: o%s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                    % (target[0], target[1], via(c), target[0], tag(), target[0], tag())
                )
                await c.final("OPTIONS")  # any final answer: the server read it
                ok += 1
                c.close()
            except (OSError, asyncio.IncompleteReadError) as e:
                print("handshake failed: %r" % e, file=sys.stderr)

    await asyncio.gather(*(one() for _ in range(conns)))
    return ok


async def registers(target, count, conns):
    cs = [await Conn.open(*target) for _ in range(conns)]
    ok = 0
    per = count // conns

    async def run(i, c):
        nonlocal ok
        for n in range(per):
            c.send(register(c, target, "u%03d%05d" % (i, n)))
            code, _, _ = await c.final("REGISTER")
            ok += code == 200

    t = time.monotonic()
    await asyncio.gather(*(run(i, c) for i, c in enumerate(cs)))
    return ok, per * conns, time.monotonic() - t


async def calls(target, count, pairs):
    host = target[0]
    callers = [await Conn.open(*target) for _ in range(pairs)]
    callees = [await Conn.open(*target) for _ in range(pairs)]
    for i, c in enumerate(callees):
        c.send(register(c, target, "c%05d" % i))
        code, _, _ = await c.final("REGISTER")
        assert code == 200, "callee registers: %d" % code
    ok = 0
    per = count // pairs

    async def answer(c, i):
        while True:
            first, h, b = await c.recv()
            if first.startswith("SIP/2.0"):
                continue
            method = first.split()[0]
            if method == "ACK":
                continue
            vias = "".join("Via: %s\r\n" % v for v in every(h, "Via") + every(h, "v"))
            rr = "".join("Record-Route: %s\r\n" % v for v in every(h, "Record-Route"))
            to = get(h, "To")
            if ";tag=" not in to:
                to += ";tag=" + tag()
            common = "%s%sFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n" % (
                vias, rr, get(h, "From"), to, get(h, "Call-ID"), get(h, "CSeq"))
            contact = "Contact: <sip:c%05d@%s:%d;transport=tls>\r\n" % (i, c.local[0], c.local[1])
            if method == "INVITE":
                c.send("SIP/2.0 180 Ringing\r\n%s%sContent-Length: 0\r\n\r\n" % (common, contact))
                c.send("SIP/2.0 200 OK\r\n%s%sContent-Type: application/sdp\r\n"
                       "Content-Length: %d\r\n\r\n%s" % (common, contact, len(SDP), SDP))
            else:
                c.send("SIP/2.0 200 OK\r\n%sContent-Length: 0\r\n\r\n" % common)

    async def place(c, i):
        nonlocal ok
        for n in range(per):
            cid, ftag = "call" + tag(), tag()
            uri = "sip:c%05d@%s:%d" % (i, host, target[1])
            frm = "From: <sip:a%05d@%s>;tag=%s\r\n" % (i, host, ftag)
            c.send("INVITE %s SIP/2.0\r\n%sMax-Forwards: 70\r\n%sTo: <%s>\r\nCall-ID: %s\r\n"
                   "CSeq: 1 INVITE\r\nContact: <sip:a%05d@%s:%d;transport=tls>\r\n"
                   "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s"
                   % (uri, via(c), frm, uri, cid, i, c.local[0], c.local[1], len(SDP), SDP))
            code, h, _ = await c.final("INVITE")
            if code != 200:
                continue
            to = get(h, "To")
            target_uri = get(h, "Contact").strip("<>").split(">")[0]
            routes = "".join("Route: %s\r\n" % v for v in every(h, "Record-Route"))
            for m, seq in (("ACK", 1), ("BYE", 2)):
                c.send("%s %s SIP/2.0\r\n%sMax-Forwards: 70\r\n%s%sTo: %s\r\nCall-ID: %s\r\n"
                       "CSeq: %d %s\r\nContent-Length: 0\r\n\r\n"
                       % (m, target_uri, via(c), routes, frm, to, cid, seq, m))
            code, _, _ = await c.final("BYE")
            ok += code == 200

    answering = [asyncio.ensure_future(answer(c, i)) for i, c in enumerate(callees)]
    t = time.monotonic()
    await asyncio.gather(*(place(c, i) for i, c in enumerate(callers)))
    dt = time.monotonic() - t
    for a in answering:
        a.cancel()
    return ok, per * pairs, dt


async def main():
    mode, target, count, conns = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    host, _, port = target.rpartition(":")
    target = (host, int(port))
    if mode == "handshake":
        t = time.monotonic()
        ok = await handshakes(target, count, conns)
        dt, n = time.monotonic() - t, count
    elif mode == "register":
        ok, n, dt = await registers(target, count, conns)
    else:
        ok, n, dt = await calls(target, count, conns)
    print("mode=%s count=%d ok=%d failed=%d seconds=%.2f per_second=%.0f"
          % (mode, n, ok, n - ok, dt, ok / dt))


asyncio.run(main())
