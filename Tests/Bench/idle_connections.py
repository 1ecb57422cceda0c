#!/usr/bin/env python3
"""Fresh probes against `serve` while other connections are held open (issue #11 item 11).

Opens HOLD connections to 127.0.0.1:PORT and keeps them: `idle` ones send nothing, `slow` ones send
a partial request head and then one more byte every second (slowloris), `keepalive` ones make one
request, read the answer and then sit idle on the kept-alive connection. Connections the server
closes are counted, not reopened. While they are held, PROBES fresh connections each GET /readyz
with a TIMEOUT (kubelet's default is 1 s). Prints one Markdown row: held, kind, probes answered,
median and max latency of the answered ones, and how many held connections the server closed.

Usage: idle_connections.py PORT [--hold 2000] [--kind idle|slow|keepalive|mix] [--probes 20]
                           [--timeout 1.0] [--interval 0.25]
Standard library only.
"""
import argparse
import resource
import selectors
import socket
import statistics
import sys
import time


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def probe(port, timeout):
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(max(0.001, timeout - (time.monotonic() - start)))
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n" not in data:
                s.settimeout(max(0.001, timeout - (time.monotonic() - start)))
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            ok = data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.1 503")
            return ok, time.monotonic() - start
    except OSError:
        return False, time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--hold", type=int, default=2000)
    ap.add_argument("--kind", default="idle", choices=["idle", "slow", "keepalive", "mix"])
    ap.add_argument("--probes", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--interval", type=float, default=0.25)
    a = ap.parse_args()
    limit = raise_nofile(a.hold + 64)
    if limit < a.hold + 64:
        sys.exit(f"idle_connections.py: the open-file limit is {limit}; {a.hold + 64} needed")

    sel = selectors.DefaultSelector()
    held = []
    kinds = ["idle", "slow", "keepalive"]
    for i in range(a.hold):
        kind = kinds[i % 3] if a.kind == "mix" else a.kind
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", a.port))
        held.append((s, kind))
    # Let the handshakes finish (the server's accept queue drains as it accepts).
    time.sleep(1.0)
    for s, kind in held:
        try:
            if kind == "slow":
                s.send(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")
            elif kind == "keepalive":
                s.send(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass
        sel.register(s, selectors.EVENT_READ, kind)
    closed = 0
    answered = []
    failures = 0
    next_trickle = time.monotonic() + 1.0
    for _ in range(a.probes):
        ok, took = probe(a.port, a.timeout)
        if ok:
            answered.append(took)
        else:
            failures += 1
        end = time.monotonic() + a.interval
        while time.monotonic() < end:
            for key, _ in sel.select(timeout=max(0, end - time.monotonic())):
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    closed += 1
            if time.monotonic() >= next_trickle:
                next_trickle += 1.0
                for s, kind in held:
                    if kind == "slow":
                        try:
                            s.send(b"X")
                        except OSError:
                            pass
    med = f"{statistics.median(answered) * 1000:.1f} ms" if answered else "-"
    mx = f"{max(answered) * 1000:.1f} ms" if answered else "-"
    print(f"| {a.hold} | {a.kind} | {len(answered)} of {a.probes} | {med} | {mx} | {closed} |")
    for s, _ in held:
        s.close()


if __name__ == "__main__":
    main()
