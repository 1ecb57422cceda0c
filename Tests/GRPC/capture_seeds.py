#!/usr/bin/env python3
"""Captures the fuzz seed corpora of the gRPC parsers from a real grpcio client talking to `serve --grpc`.

  Tests/GRPC/capture_seeds.py BIN OUTDIR     (OUTDIR is Tests/Fuzz/corpus; run from the repository root)

A TCP relay between grpcio (Check "", "readyz", "livez", an unknown name, List, a Watch) and the server
records both directions. From them:
  h2-frames/  the client's bytes after the connection preface (whole session, first call only)
  hpack/      header blocks in sequence (each as a 2-byte big-endian length, then the block): the client's
              and the server's, so the dynamic-table references resolve
  protobuf/   the request and response messages (the gRPC 5-byte prefix removed)
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def relay(listener, target_port, record):
    client, _ = listener.accept()
    server = socket.create_connection(("127.0.0.1", target_port))
    up, down = bytearray(), bytearray()
    record.append((up, down))

    def pump(src, dst, buf):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buf.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    a = threading.Thread(target=pump, args=(client, server, up), daemon=True)
    b = threading.Thread(target=pump, args=(server, client, down), daemon=True)
    a.start()
    b.start()
    return a, b


def frames(buf):
    i, out = 0, []
    while len(buf) - i >= 9:
        n = int.from_bytes(buf[i:i + 3], "big")
        if len(buf) - i - 9 < n:
            break
        out.append((buf[i + 3], buf[i + 4], int.from_bytes(buf[i + 5:i + 9], "big"), bytes(buf[i + 9:i + 9 + n]), bytes(buf[i:i + 9 + n])))
        i += 9 + n
    return out


def main():
    binary, outdir = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="rp-seeds.")
    hook = os.path.join(tmp, "ok")
    with open(hook, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(hook, 0o755)
    conf = os.path.join(tmp, "probe.conf")
    with open(conf, "w") as f:
        f.write(f"[probe]\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[hook:app]\ncommand = {hook}\nliveness = true\n")
    proc = subprocess.Popen([binary, "serve", "--config", conf, "--grpc", "127.0.0.1:0", "--period", "200ms", "--quiet"],
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    port = int(line.split("grpc://127.0.0.1:")[1].split()[0])
    time.sleep(0.5)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    record = []
    threads = []
    t = threading.Thread(target=lambda: threads.extend(relay(listener, port, record)))
    t.start()
    ch = grpc.insecure_channel(f"127.0.0.1:{listener.getsockname()[1]}")
    stub = health_pb2_grpc.HealthStub(ch)
    for s in ["", "readyz", "livez", "app"]:
        stub.Check(health_pb2.HealthCheckRequest(service=s), timeout=5)
    try:
        stub.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=5)
    except grpc.RpcError:
        pass
    stub.List(health_pb2.HealthListRequest(), timeout=5)
    w = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
    next(w)
    w.cancel()
    time.sleep(0.3)
    ch.close()
    for th in threads:
        th.join(timeout=3)
    proc.terminate()
    proc.wait(timeout=5)
    up, down = record[0]
    assert up.startswith(PREFACE), "no preface"
    client = frames(up[len(PREFACE):])
    server = frames(down)

    def write(target, name, data):
        os.makedirs(os.path.join(outdir, target), exist_ok=True)
        with open(os.path.join(outdir, target, name), "wb") as f:
            f.write(data)

    write("h2-frames", "grpcio-session", b"\x00" + bytes(up[len(PREFACE):]))
    write("h2-frames", "grpcio-session-chunked", b"\x05" + bytes(up[len(PREFACE):]))
    first_end = next(i for i, fr in enumerate(client) if fr[0] == 0 and fr[1] & 1)
    write("h2-frames", "grpcio-first-check", b"\x00" + b"".join(fr[4] for fr in client[:first_end + 1]))

    def blocks(frs):
        return b"".join(len(fr[3]).to_bytes(2, "big") + fr[3] for fr in frs if fr[0] == 1)

    write("hpack", "grpcio-client-blocks", b"\x00" + blocks(client))
    write("hpack", "grpcio-server-blocks", b"\x00" + blocks(server))
    first_block = next(fr[3] for fr in client if fr[0] == 1)
    write("hpack", "grpcio-first-block", b"\x00" + len(first_block).to_bytes(2, "big") + first_block)

    messages = set()
    for fr in client + server:
        if fr[0] == 0 and len(fr[3]) >= 5:
            messages.add(fr[3][5:])
    for i, m in enumerate(sorted(messages)):
        write("protobuf", f"grpcio-message-{i}", m)
    print(f"captured {len(client)} client frames, {len(server)} server frames, {len(messages)} messages")


if __name__ == "__main__":
    main()
