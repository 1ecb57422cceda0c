#!/usr/bin/env python3
"""Helpers for Tests/Bench/grpc.sh (raw sockets, no gRPC library on the measured path).

  grpc_probe.py idle HTTP_PORT GRPC_PORT N SECONDS   open N gRPC connections (preface, SETTINGS, one Check each),
                                                     keep them idle SECONDS, print how many answered
  grpc_probe.py probes HTTP_PORT GRPC_PORT N         the kubelet's way: a new connection per probe, N probes each
                                                     of httpGet /readyz and grpc Check; prints per-probe wall time
"""
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(t, f, s, p=b""):
    return struct.pack(">I", len(p))[1:] + bytes([t, f]) + struct.pack(">I", s) + p


def literal(name, value):
    # Literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2).
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


HEADERS = (b"\x83\x86" + literal(b":path", b"/grpc.health.v1.Health/Check") + literal(b":authority", b"127.0.0.1")
           + literal(b"content-type", b"application/grpc") + literal(b"te", b"trailers"))
CHECK = PREFACE + frame(4, 0, 0) + frame(1, 4, 1, HEADERS) + frame(0, 1, 1, b"\x00\x00\x00\x00\x00")


def grpc_check(sock):
    """Sends one Check on a new connection and reads until the trailers (END_STREAM on stream 1)."""
    sock.sendall(CHECK)
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        buf += chunk
        i = 0
        while len(buf) - i >= 9:
            n = int.from_bytes(buf[i:i + 3], "big")
            if len(buf) - i - 9 < n:
                break
            t, f, sid = buf[i + 3], buf[i + 4], int.from_bytes(buf[i + 5:i + 9], "big")
            if t == 4 and not f & 1:
                sock.sendall(frame(4, 1, 0))  # ACK the server's SETTINGS, as a client must
            if t == 1 and sid == 1 and f & 1:
                return True
            i += 9 + n
        buf = buf[i:]


def idle(grpc_port, n, seconds):
    socks, ok = [], 0
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", grpc_port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ok += grpc_check(s)
        socks.append(s)
    print(f"{ok} of {n} connections answered a Check and stay open", flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()


def probes(http_port, grpc_port, n):
    def http_once():
        s = socket.create_connection(("127.0.0.1", http_port))
        s.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kube-probe/1.33\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
        s.close()

    def grpc_once():
        s = socket.create_connection(("127.0.0.1", grpc_port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        grpc_check(s)
        s.close()

    for name, fn in (("httpGet /readyz", http_once), ("grpc Check", grpc_once)):
        for _ in range(20):
            fn()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        times.sort()
        print(f"{name}\t{times[len(times) // 2] * 1e3:.3f}\t{times[int(len(times) * 0.99)] * 1e3:.3f}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "idle":
        idle(int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif cmd == "probes":
        probes(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
