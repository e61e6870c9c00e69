#!/usr/bin/env python3
"""Conference load against Janus AudioBridge with plain-RTP participants, for the side-by-side
figures in benches/README.md ("Side by side with Janus AudioBridge").

The same shape as `switchboard load` with a conferences scenario: R rooms of N PCMU phones, the
first T of each room talkers (a steady tone at 900, 1050, 1200 ... Hz, -12 dBFS), the others
G.711 digital silence, optionally the last one a probe (100 ms of 3 kHz at the start of every
second, after 2 s); every phone sends 50 packets/s from its own UDP socket, silence included.

It creates the rooms over Janus's HTTP API (`allow_rtp_participants`, PCMU, the mixing rate
given), joins every phone with an `rtp` object (its own address and port) and sends to the
port the `joined` event names. It reads every mix packet; at the end of the steady window it
checks by frequency (Goertzel over the last second each phone received) that every phone
hears the talkers other than itself and never its own tone. Over the steady window (from
SETTLE seconds after the last join) it samples the server's whole process from /proc/PID/stat
(utime + stime), and reports CPU per participant-second = CPU seconds / (participants x
window seconds), the RSS before the joins and at the end of the window, the load average
before, during and after, and the driver's own CPU (not counted in the server's figure).

  janus_bridge_load.py --pid PID [--url http://127.0.0.1:8990/janus] [--rooms 20]
      [--participants 10] [--talkers 2] [--probe] [--rate 8000] [--settle 5] [--window 30]
      [--bind 127.0.0.91] [--port-base 40000] [--json out.json]
"""
import argparse
import array
import collections
import http.client
import json
import math
import os
import random
import resource
import select
import socket
import struct
import sys
import time
import urllib.parse

FRAME = 0.020
SAMPLES = 160  # 20 ms at 8 kHz
TONE_DBFS = -12.0
PROBE_HZ = 3000.0
PROBE_FRAMES = 5  # 100 ms
PROBE_SETTLE_FRAMES = 100  # 2 s


def talker_hz(i):
    return 900.0 + 150.0 * i


# G.711 mu-law (ITU-T G.711), as phones send it
def ulaw_encode(s):
    BIAS, CLIP = 0x84, 32635
    sign = 0x80 if s < 0 else 0
    if s < 0:
        s = -s
    s = min(s, CLIP) + BIAS
    exp = 7
    mask = 0x4000
    while exp > 0 and not (s & mask):
        exp -= 1
        mask >>= 1
    mant = (s >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def ulaw_decode(b):
    b = ~b & 0xFF
    sign, exp, mant = b & 0x80, (b >> 4) & 7, b & 0x0F
    s = (((mant << 3) + 0x84) << exp) - 0x84
    return -s if sign else s


ULAW_DECODE = [ulaw_decode(b) for b in range(256)]


def voice(kind, index):
    """One second (50 frames) of PCMU payloads."""
    amp = 32767.0 * 10 ** (TONE_DBFS / 20)
    frames = []
    for f in range(50):
        if kind == "talker":
            hz = talker_hz(index)
        elif kind == "probe" and f < PROBE_FRAMES:
            hz = PROBE_HZ
        else:
            hz = None
        pcm = [0 if hz is None else int(amp * math.sin(2 * math.pi * hz * (f * SAMPLES + i) / 8000))
               for i in range(SAMPLES)]
        frames.append(bytes(ulaw_encode(s) for s in pcm))
    return frames


def goertzel_dbfs(samples, hz, rate=8000):
    """The power of `hz` in `samples`, in dB relative to a full-scale sine."""
    n = len(samples)
    k = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x / 32768.0 + k * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    amp = 2 * math.sqrt(max(power, 0.0)) / n  # a full-scale sine gives 1
    return 20 * math.log10(amp) if amp > 0 else -200.0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Janus:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.base = u.hostname, u.port or 80, u.path.rstrip("/")
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.tx = 0

    def _request(self, method, path, body=None):
        for attempt in range(2):
            try:
                data = json.dumps(body).encode() if body is not None else None
                self.conn.request(method, self.base + path, body=data,
                                  headers={"Content-Type": "application/json"})
                return json.loads(self.conn.getresponse().read())
            except (http.client.HTTPException, ConnectionError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def post(self, path, body):
        self.tx += 1
        body = dict(body, transaction=f"t{self.tx}")
        r = self._request("POST", path, body)
        if r.get("janus") == "error":
            raise RuntimeError(f"janus error: {r}")
        return r

    def events(self, session, maxev=100):
        r = self._request("GET", f"/{session}?maxev={maxev}")
        return r if isinstance(r, list) else [r]


class Phone:
    __slots__ = ("room", "index", "kind", "talker", "frames", "sock", "handle", "remote",
                 "seq", "ts", "ssrc", "next", "frame", "received", "lost", "last_seq", "tail")

    def __init__(self, room, index, kind, talker, frames, sock):
        self.room, self.index, self.kind, self.talker = room, index, kind, talker
        self.frames, self.sock = frames, sock
        self.handle = self.remote = None
        self.seq = random.randrange(65536)
        self.ts = random.randrange(1 << 32)
        self.ssrc = random.randrange(1, 1 << 32)
        self.next = 0.0
        self.frame = 0
        self.received = self.lost = 0
        self.last_seq = None
        self.tail = collections.deque(maxlen=50)  # the last second received

    def packet(self):
        k = self.frame % 50
        if self.kind == "probe" and self.frame < PROBE_SETTLE_FRAMES and k < PROBE_FRAMES:
            k = PROBE_FRAMES  # silence until settled, as the load runner's probe
        hdr = struct.pack("!BBHII", 0x80, 0, self.seq, self.ts, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + SAMPLES) & 0xFFFFFFFF
        self.frame += 1
        return hdr + self.frames[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8990/janus")
    ap.add_argument("--pid", type=int, required=True, help="the Janus process")
    ap.add_argument("--rooms", type=int, default=20)
    ap.add_argument("--participants", type=int, default=10)
    ap.add_argument("--talkers", type=int, default=2)
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--rate", type=int, default=8000, help="the rooms' mixing rate")
    ap.add_argument("--settle", type=float, default=5)
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--bind", default="127.0.0.91")
    ap.add_argument("--port-base", type=int, default=40000)
    ap.add_argument("--json")
    a = ap.parse_args()
    hz = os.sysconf("SC_CLK_TCK")
    out = {"shape": vars(a), "load_before": loadavg()}
    print(f"before: load average {out['load_before']}")
    rss_idle = proc_status(a.pid, "VmRSS")

    voices = {}
    phones = []
    for r in range(a.rooms):
        for i in range(a.participants):
            if i < a.talkers:
                kind, t = "talker", i
            elif a.probe and i == a.participants - 1:
                kind, t = "probe", None
            else:
                kind, t = "silent", None
            key = (kind, t)
            if key not in voices:
                voices[key] = voice(kind, t)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((a.bind, a.port_base + len(phones)))
            s.setblocking(False)
            phones.append(Phone(r, i, kind, t, voices[key], s))

    j = Janus(a.url)
    session = j.post("", {"janus": "create"})["data"]["id"]
    for p in phones:
        p.handle = j.post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.audiobridge"})["data"]["id"]
    by_handle = {p.handle: p for p in phones}
    room_ids = [9000 + r for r in range(a.rooms)]
    for r, rid in enumerate(room_ids):
        h = phones[r * a.participants].handle
        res = j.post(f"/{session}/{h}", {"janus": "message", "body": {
            "request": "create", "room": rid, "description": f"bench-{r}",
            "sampling_rate": a.rate, "allow_rtp_participants": True}})
        data = res["plugindata"]["data"]
        if data.get("audiobridge") != "created":
            sys.exit(f"room {rid} not created: {data}")
    t_join = time.monotonic()
    for p in phones:
        j.post(f"/{session}/{p.handle}", {"janus": "message", "body": {
            "request": "join", "room": room_ids[p.room], "display": f"r{p.room}p{p.index}",
            "codec": "pcmu", "rtp": {"ip": a.bind, "port": p.sock.getsockname()[1]}}})
    joined = 0
    deadline = time.monotonic() + 60
    while joined < len(phones) and time.monotonic() < deadline:
        for ev in j.events(session):
            data = ev.get("plugindata", {}).get("data", {})
            if ev.get("janus") == "event" and data.get("audiobridge") == "joined" and "rtp" in data:
                p = by_handle.get(ev.get("sender"))
                if p is not None and p.remote is None:
                    p.remote = (data["rtp"]["ip"], data["rtp"]["port"])
                    p.sock.connect(p.remote)
                    joined += 1
            elif data.get("error"):
                sys.exit(f"join failed: {data}")
    if joined < len(phones):
        sys.exit(f"only {joined} of {len(phones)} joined")
    print(f"joined: {joined} plain-RTP participants in {a.rooms} rooms in {time.monotonic() - t_join:.1f} s")

    ep = select.epoll()
    by_fd = {}
    now = time.monotonic()
    for n, p in enumerate(phones):
        p.next = now + FRAME * n / len(phones)  # spread the sends over the 20 ms
        ep.register(p.sock.fileno(), select.EPOLLIN)
        by_fd[p.sock.fileno()] = p
    schedule = sorted(phones, key=lambda p: p.next)
    start = now
    a_at = start + a.settle
    b_at = a_at + a.window
    sampled = None
    late_sends = 0
    lateness = array.array("d")
    sent = 0
    while True:
        now = time.monotonic()
        if sampled is None and now >= a_at:
            sampled = (cpu_ticks(a.pid), now, resource.getrusage(resource.RUSAGE_SELF),
                       sum(p.received for p in phones), sum(p.lost for p in phones))
        if now >= b_at:
            break
        # send everything due
        while schedule[0].next <= now:
            p = schedule.pop(0)
            if now - p.next > 0.010:
                late_sends += 1
            if sampled is not None and len(lateness) < 200000:
                lateness.append(now - p.next)
            try:
                p.sock.send(p.packet())
                sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                pass
            p.next += FRAME
            # keep the schedule sorted: insert by next time (it is nearly always last)
            i = len(schedule)
            while i > 0 and schedule[i - 1].next > p.next:
                i -= 1
            schedule.insert(i, p)
        timeout = max(0.0, schedule[0].next - time.monotonic())
        for fd, _ in ep.poll(timeout):
            p = by_fd[fd]
            while True:
                try:
                    pkt = p.sock.recv(1500)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                if len(pkt) < 12:
                    continue
                seq = struct.unpack_from("!H", pkt, 2)[0]
                if p.last_seq is not None:
                    gap = (seq - p.last_seq) & 0xFFFF
                    if 1 < gap < 1000:
                        p.lost += gap - 1
                p.last_seq = seq
                p.received += 1
                p.tail.append(pkt[12:])
    b_cpu, b_t = cpu_ticks(a.pid), time.monotonic()
    b_self = resource.getrusage(resource.RUSAGE_SELF)
    a_cpu, a_t, a_self, a_recv, a_lost = sampled
    load_during = loadavg()
    rss = proc_status(a.pid, "VmRSS")
    threads = proc_status(a.pid, "Threads")
    secs = b_t - a_t
    cpu = (b_cpu - a_cpu) / hz
    n = len(phones)
    self_cpu = (b_self.ru_utime + b_self.ru_stime) - (a_self.ru_utime + a_self.ru_stime)
    recv = sum(p.received for p in phones) - a_recv
    lost = sum(p.lost for p in phones) - a_lost

    # what the phones heard, over the last second of the window
    heard = self_heard = talkers = listeners_ok = 0
    levels = collections.defaultdict(list)
    for p in phones:
        pcm = [ULAW_DECODE[b] for payload in p.tail for b in payload]
        if len(pcm) < 4000:
            continue
        others = [talker_hz(t) for t in range(a.talkers) if t != p.talker]
        got = [goertzel_dbfs(pcm, f) for f in others]
        if all(g > -30 for g in got):
            heard += 1
        levels[p.kind].append(min(got) if got else None)
        if p.kind == "talker":
            talkers += 1
            own = goertzel_dbfs(pcm, talker_hz(p.talker))
            if own > -40:
                self_heard += 1
            levels["talker_own"].append(own)

    # leave: the rooms go (their participants with them), then the session and its handles
    try:
        for r, rid in enumerate(room_ids):
            j.post(f"/{session}/{phones[r * a.participants].handle}",
                   {"janus": "message", "body": {"request": "destroy", "room": rid}})
        j.post(f"/{session}", {"janus": "destroy"})
    except Exception as e:  # the figures are taken; report and go on
        print(f"destroy: {e}")
    for p in phones:
        p.sock.close()
    time.sleep(1)
    out.update({
        "load_during": load_during, "load_after": loadavg(),
        "participants": n, "window_secs": secs, "server_cpu_secs": cpu,
        "server_cores": cpu / secs, "us_per_participant_second": cpu * 1e6 / (n * secs),
        "rss_idle_kib": rss_idle, "rss_kib": rss, "threads": threads,
        "driver_cpu_cores": self_cpu / secs, "driver_late_sends": late_sends,
        "mix_packets_received": recv, "mix_packets_expected": int(n * secs * 50),
        "mix_lost": lost, "heard_all_other_talkers": heard, "talkers_heard_self": self_heard,
        "talkers": talkers,
        "weakest_other_talker_dbfs": {k: (round(min(v), 1) if v and v[0] is not None else None)
                                      for k, v in levels.items() if k != "talker_own"},
        "loudest_own_tone_dbfs": round(max(levels["talker_own"]), 1) if levels["talker_own"] else None,
    })
    print(f"during: load average {out['load_during']}")
    print(f"steady window: {secs:.1f} s with {n} participants in")
    print(f"server CPU: {cpu / secs:.3f} cores, {out['us_per_participant_second']:.1f} us per participant-second")
    print(f"server RSS: {rss_idle} KiB idle -> {rss} KiB, {threads} threads")
    print(f"mix packets received: {recv} of {out['mix_packets_expected']} expected, {lost} lost (sequence gaps)")
    print(f"heard: {heard}/{n} heard every other talker (weakest, dBFS: {out['weakest_other_talker_dbfs']}), "
          f"{self_heard}/{talkers} talkers heard themselves (loudest own tone {out['loudest_own_tone_dbfs']} dBFS)")
    late = sorted(lateness) or [0.0]
    out["driver_send_lateness_ms_p50_p99"] = [round(late[len(late) // 2] * 1e3, 2), round(late[len(late) * 99 // 100] * 1e3, 2)]
    print(f"driver: {self_cpu / secs:.3f} cores (not in the server's figure), {late_sends} sends > 10 ms late of {sent}, "
          f"send lateness in the window p50 {out['driver_send_lateness_ms_p50_p99'][0]} ms, p99 {out['driver_send_lateness_ms_p50_p99'][1]} ms")
    print(f"after: load average {out['load_after']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
