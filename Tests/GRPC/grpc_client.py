#!/usr/bin/env python3
"""Drives `readiness-probe serve --grpc` for the Swift tests (Tests/ReadinessProbeTests/GRPCHealthTests.swift)
with the official gRPC Python client (grpcio, grpcio-health-checking) and, for the attacks, raw HTTP/2 frames
(the `h2` package's HPACK encoder plus hand-made frames). Prints one JSON object per line; the Swift test
asserts on them. Every wait has a deadline.

  grpc_client.py check PORT SERVICE...        Check each service: status name or gRPC error, trailers
  grpc_client.py list PORT                    List
  grpc_client.py watch PORT SERVICE CODEFILE [TIMEOUT]  Watch; after the first message write 0 to CODEFILE
                                              (the hook's exit code) and report the messages seen, with times
  grpc_client.py concurrent PORT N CHANNELS   N Checks at once over CHANNELS channels
  grpc_client.py attacks PORT [NAME...]       each attack, with a legitimate Check measured during it
  grpc_client.py term PORT                    a Watch open and Checks in flight while the test sends SIGTERM
"""
import json
import socket
import struct
import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

STATUS = health_pb2.HealthCheckResponse.ServingStatus


def out(obj):
    print(json.dumps(obj), flush=True)


def stub_for(port):
    ch = grpc.insecure_channel(f"127.0.0.1:{port}")
    return ch, health_pb2_grpc.HealthStub(ch)


def check(port, services):
    ch, stub = stub_for(port)
    for s in services:
        try:
            r, call = stub.Check.with_call(health_pb2.HealthCheckRequest(service=s), timeout=5)
            out({"service": s, "status": STATUS.Name(r.status),
                 "trailers": {m.key: m.value for m in call.trailing_metadata()}})
        except grpc.RpcError as e:
            out({"service": s, "error": e.code().name, "details": e.details()})
    ch.close()


def list_services(port):
    ch, stub = stub_for(port)
    r = stub.List(health_pb2.HealthListRequest(), timeout=5)
    out({"statuses": {k: STATUS.Name(v.status) for k, v in r.statuses.items()}})
    ch.close()


def watch(port, service, codefile, timeout=15.0):
    ch, stub = stub_for(port)
    t0 = time.monotonic()
    seen = []
    stream = stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    flipped = None
    try:
        for r in stream:
            seen.append({"status": STATUS.Name(r.status), "at": round(time.monotonic() - t0, 3)})
            if len(seen) == 1:
                with open(codefile, "w") as f:
                    f.write("0\n")
                flipped = round(time.monotonic() - t0, 3)
            if len(seen) >= 2:
                break
    except grpc.RpcError as e:
        seen.append({"error": e.code().name})
    stream.cancel()
    out({"seen": seen, "flipped_at": flipped})
    ch.close()


def concurrent(port, n, channels):
    chans = [stub_for(port) for _ in range(channels)]
    for ch, stub in chans:  # connect first: the figure is about the calls, not the handshakes
        grpc.channel_ready_future(ch).result(timeout=10)
    t0 = time.monotonic()
    futures = [chans[i % channels][1].Check.future(health_pb2.HealthCheckRequest(service=""), timeout=20) for i in range(n)]
    ok, errors = 0, {}
    for f in futures:
        try:
            r = f.result()
            ok += r.status == STATUS.Value("SERVING")
        except grpc.RpcError as e:
            errors[e.code().name] = errors.get(e.code().name, 0) + 1
    out({"n": n, "channels": channels, "serving": ok, "errors": errors, "seconds": round(time.monotonic() - t0, 3)})
    for ch, _ in chans:
        ch.close()


# ---- raw HTTP/2 -------------------------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def settings(pairs=()):
    return frame(4, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def check_headers(stream, end_stream=False, end_headers=True):
    import hpack
    block = hpack.Encoder().encode([(":method", "POST"), (":scheme", "http"), (":path", "/grpc.health.v1.Health/Check"),
                                    (":authority", "localhost"), ("content-type", "application/grpc"), ("te", "trailers")])
    return frame(1, (1 if end_stream else 0) | (4 if end_headers else 0), stream, block)


def check_body(stream, service=b""):
    msg = (b"\x0a" + bytes([len(service)]) + service) if service else b""
    return frame(0, 1, stream, b"\x00" + struct.pack(">I", len(msg)) + msg)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_frames(sock, seconds):
    """Reads until EOF or `seconds`; returns (frames, eof). Frames: (type, flags, stream, payload)."""
    sock.settimeout(0.2)
    buf = b""
    eof = False
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            eof = True
            break
        if not chunk:
            eof = True
            break
        buf += chunk
        if len(buf) > 8 << 20:
            buf = buf[-(1 << 20):]
    frames = []
    i = 0
    while len(buf) - i >= 9:
        length = int.from_bytes(buf[i:i + 3], "big")
        if len(buf) - i - 9 < length:
            break
        frames.append((buf[i + 3], buf[i + 4], int.from_bytes(buf[i + 5:i + 9], "big") & 0x7FFFFFFF, buf[i + 9:i + 9 + length]))
        i += 9 + length
    return frames, eof


GOAWAY_CODES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 3: "FLOW_CONTROL_ERROR", 6: "FRAME_SIZE_ERROR", 9: "COMPRESSION_ERROR",
                11: "ENHANCE_YOUR_CALM", 4: "SETTINGS_TIMEOUT"}


def goaway_code(frames):
    for t, _, _, p in frames:
        if t == 7 and len(p) >= 8:
            return GOAWAY_CODES.get(int.from_bytes(p[4:8], "big"), str(int.from_bytes(p[4:8], "big")))
    return None


def send_quietly(sock, data):
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def flood(sock, unit, total_bytes, stop):
    """Writes `unit` repeatedly (without reading) until `total_bytes`, an error, or `stop`."""
    sent = 0
    block = unit * max(1, 65536 // len(unit))
    sock.settimeout(2)
    while sent < total_bytes and not stop.is_set():
        try:
            sock.sendall(block)
        except (socket.timeout, OSError):
            break
        sent += len(block)
    return sent


def attack_wrong_preface(port, stop):
    s = connect(port)
    send_quietly(s, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
    frames, eof = read_frames(s, 3)
    return {"goaway": goaway_code(frames), "closed": eof}


def attack_settings_flood(port, stop):
    s = connect(port)
    send_quietly(s, PREFACE + settings())
    sent = flood(s, settings([(4, 65535)]), 64 << 20, stop)
    frames, eof = read_frames(s, 3)
    return {"sent": sent, "goaway": goaway_code(frames), "closed": eof}


def attack_ping_flood(port, stop):
    s = connect(port)
    send_quietly(s, PREFACE + settings())
    sent = flood(s, frame(6, 0, 0, b"12345678"), 64 << 20, stop)
    frames, eof = read_frames(s, 3)
    return {"sent": sent, "goaway": goaway_code(frames), "closed": eof}


def attack_hpack_table_size(port, stop):
    s = connect(port)
    # A dynamic table size update to 2^31 - 1 (5-bit prefix, then 7-bit groups) at the start of the block.
    update = b"\x3f" + bytes([0xE0, 0xFF, 0xFF, 0xFF, 0x07])
    send_quietly(s, PREFACE + settings() + frame(1, 5, 1, update + b"\x83\x86\x84"))
    frames, eof = read_frames(s, 3)
    return {"goaway": goaway_code(frames), "closed": eof}


def attack_continuation_without_end(port, stop):
    s = connect(port)
    send_quietly(s, PREFACE + settings() + check_headers(1, end_headers=False))
    sent = flood(s, frame(9, 0, 1, b"\x40\x01a\x01b" * 3000), 64 << 20, stop)
    frames, eof = read_frames(s, 3)
    return {"sent": sent, "goaway": goaway_code(frames), "closed": eof}


def attack_rapid_reset(port, stop):
    s = connect(port)
    send_quietly(s, PREFACE + settings())
    import hpack
    enc = hpack.Encoder()
    sid = 1
    sent = 0
    s.settimeout(2)
    while sid < 200000 and not stop.is_set():
        chunk = b""
        for _ in range(100):
            block = enc.encode([(":method", "POST"), (":scheme", "http"), (":path", "/grpc.health.v1.Health/Check"),
                                (":authority", "localhost"), ("content-type", "application/grpc"), ("te", "trailers")])
            chunk += frame(1, 5, sid, block) + frame(3, 0, sid, struct.pack(">I", 8))
            sid += 2
        if not send_quietly(s, chunk):
            break
        sent += 100
    frames, eof = read_frames(s, 3)
    return {"streams": sent, "goaway": goaway_code(frames), "closed": eof}


def attack_data_16mib(port, stop):
    s = connect(port)
    send_quietly(s, PREFACE + settings() + check_headers(1))
    header = struct.pack(">I", (16 << 20) - 1)[1:] + bytes([0, 1]) + struct.pack(">I", 1)
    send_quietly(s, header)
    sent = flood(s, b"\x00" * 65536, 16 << 20, stop)
    frames, eof = read_frames(s, 3)
    return {"sent": sent, "goaway": goaway_code(frames), "closed": eof}


def attack_never_closed(port, stop):
    # 200 streams opened and never finished: the server takes at most its SETTINGS_MAX_CONCURRENT_STREAMS.
    s = connect(port)
    send_quietly(s, PREFACE + settings() + b"".join(check_headers(2 * i + 1) for i in range(200)))
    frames, eof = read_frames(s, 2)
    refused = sum(1 for t, _, _, p in frames if t == 3 and p == struct.pack(">I", 7))
    return {"refused": refused, "closed": eof}


def attack_window_exhaustion(port, stop):
    # No window for the server's DATA: 100 Checks whose answers cannot be sent.
    s = connect(port)
    reqs = b"".join(check_headers(2 * i + 1) + check_body(2 * i + 1) for i in range(100))
    send_quietly(s, PREFACE + settings([(4, 0)]) + reqs)
    frames, eof = read_frames(s, 2)
    data = sum(len(p) for t, _, _, p in frames if t == 0)
    headers = sum(1 for t, _, _, _ in frames if t == 1)
    # Now open the window: every answer must come.
    send_quietly(s, settings([(4, 65535)]))
    frames, eof = read_frames(s, 2)
    ends = sum(1 for t, f, _, _ in frames if t == 1 and f & 1)
    return {"data_before": data, "headers_before": headers, "finished_after": ends, "closed": eof}


def attack_goaway(port, stop):
    # A Check, then GOAWAY from the client: the answer still comes, then the server closes.
    s = connect(port)
    send_quietly(s, PREFACE + settings() + check_headers(1) + check_body(1) + frame(7, 0, 0, struct.pack(">II", 1, 0)))
    frames, eof = read_frames(s, 3)
    ends = sum(1 for t, f, sid, _ in frames if t == 1 and f & 1 and sid == 1)
    return {"answered": ends, "closed": eof}


ATTACKS = {
    "wrong_preface": attack_wrong_preface, "settings_flood": attack_settings_flood, "ping_flood": attack_ping_flood,
    "hpack_table_size": attack_hpack_table_size, "continuation_without_end": attack_continuation_without_end,
    "rapid_reset": attack_rapid_reset, "data_16mib": attack_data_16mib, "never_closed": attack_never_closed,
    "window_exhaustion": attack_window_exhaustion, "goaway": attack_goaway,
}


def attacks(port, names):
    ch, stub = stub_for(port)
    stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    for name in names or list(ATTACKS):
        stop = threading.Event()
        result = {}

        def run():
            try:
                result.update(ATTACKS[name](port, stop))
            except Exception as e:  # the attack itself failing is reported, not fatal
                result["exception"] = repr(e)

        t = threading.Thread(target=run)
        t.start()
        latencies, failures = [], []
        time.sleep(0.05)
        for _ in range(5):
            t0 = time.monotonic()
            try:
                stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
                latencies.append(round((time.monotonic() - t0) * 1000, 2))
            except grpc.RpcError as e:
                failures.append(e.code().name)
            time.sleep(0.1)
        stop.set()
        t.join(timeout=15)
        out({"attack": name, "check_ms_max": max(latencies) if latencies else None, "check_failures": failures,
             "attack_finished": not t.is_alive(), **result})
    ch.close()


def term(port):
    """A Watch and a stream of Checks; the test sends SIGTERM once `ready` is printed."""
    ch, stub = stub_for(port)
    stream = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=20)
    first = next(stream)
    out({"ready": True, "first": STATUS.Name(first.status)})
    t0 = time.monotonic()
    try:
        for _ in stream:
            pass
        out({"watch_end": "OK", "after": round(time.monotonic() - t0, 3)})
    except grpc.RpcError as e:
        out({"watch_end": e.code().name, "details": e.details(), "after": round(time.monotonic() - t0, 3)})
    ch.close()


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    rest = sys.argv[3:]
    if cmd == "check":
        check(port, rest)
    elif cmd == "list":
        list_services(port)
    elif cmd == "watch":
        watch(port, rest[0], rest[1], float(rest[2]) if len(rest) > 2 else 15.0)
    elif cmd == "concurrent":
        concurrent(port, int(rest[0]), int(rest[1]))
    elif cmd == "attacks":
        attacks(port, rest)
    elif cmd == "term":
        term(port)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
