#!/usr/bin/env python3
"""A stand-in for Kuberhealthy's external-check endpoint, for readiness-probe's tests.

Enforces the v3 rules: 405 for anything but POST, 415 for a body that is not JSON,
400 for a missing or wrong kh-run-uuid, 410 once --deadline (Unix seconds) has passed,
400 for a body that breaks the report rules (OK:false without errors, blank errors,
OK:true with errors). Keys are matched case-insensitively, as Kuberhealthy does, so v2
and v3 bodies are both accepted. --statuses 503,503 answers those statuses first (one per
request), then applies the rules. Every request is appended to --log as one JSON line.
The bound port is written to --port-file once the server listens.
"""
import argparse, json, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--uuid", default="")
ap.add_argument("--deadline", type=float, default=0)
ap.add_argument("--statuses", default="")
args = ap.parse_args()
scripted = [int(s) for s in args.statuses.split(",") if s]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, text, record):
        record["status"] = status
        with open(args.log, "a") as f:
            f.write(json.dumps(record) + "\n")
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        record = {"method": self.command, "path": self.path,
                  "headers": {k.lower(): v for k, v in self.headers.items()}, "body": raw.decode("utf-8", "replace")}
        if scripted:
            return self.answer(scripted.pop(0), "scripted answer", record)
        if self.command != "POST":
            return self.answer(405, "only POST", record)
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self.answer(415, "content type must be application/json", record)
        uuid = self.headers.get("kh-run-uuid")
        if not uuid or (args.uuid and uuid != args.uuid):
            return self.answer(400, "missing or unknown kh-run-uuid", record)
        if args.deadline and time.time() > args.deadline:
            return self.answer(410, "the run's deadline has passed", record)
        try:
            doc = {k.lower(): v for k, v in json.loads(raw).items()}
        except Exception as e:
            return self.answer(400, "bad JSON: %s" % e, record)
        ok, errors = doc.get("ok"), doc.get("errors") or []
        if not isinstance(ok, bool) or not isinstance(errors, list):
            return self.answer(400, "OK must be a boolean and Errors a list", record)
        if not ok and not errors:
            return self.answer(400, "OK:false needs at least one error", record)
        if any(not isinstance(e, str) or not e.strip() for e in errors):
            return self.answer(400, "blank error", record)
        if ok and errors:
            return self.answer(400, "OK:true must carry no errors", record)
        return self.answer(200, "", record)

    do_POST = do_GET = do_PUT = do_HEAD = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
