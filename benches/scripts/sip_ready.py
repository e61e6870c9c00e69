#!/usr/bin/env python3
"""Wait until a SIP server answers: send OPTIONS over UDP every 10 ms until any response.

    sip_ready.py HOST PORT [TIMEOUT_S]

Prints the Unix time (seconds, float) of the first response and exits 0; exits 1 on timeout.
benches/scripts/scale.sh subtracts the time it started the server to get the start-up time.
"""
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
deadline = time.time() + float(sys.argv[3] if len(sys.argv) > 3 else 600)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(0.01)
lport = s.getsockname()[1]
n = 0
while time.time() < deadline:
    n += 1
    msg = (
        f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bKready{n}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@127.0.0.1>;tag=ready{n}\r\n"
        f"To: <sip:{host}:{port}>\r\n"
        f"Call-ID: ready-{n}@127.0.0.1\r\n"
        f"CSeq: {n} OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    try:
        s.sendto(msg, (host, port))
        data = s.recv(65535)
        if data.startswith(b"SIP/2.0 "):
            print(f"{time.time():.3f}")
            sys.exit(0)
    except socket.timeout:
        pass
    except ConnectionRefusedError:
        time.sleep(0.01)
sys.exit(1)
