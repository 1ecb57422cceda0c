#!/usr/bin/env python3
"""sd_notify benchmarks against a real supervisord with `readiness-probe listen` (make bench).

1. Latency: a program sends READY=1 (from its own pid, as redis does); the time until the
   listener's ledger shows it (what `run` reads under source = events/auto), and until
   `readiness-probe run` exits 0. Repeated over restarts of the program.
2. Throughput: a program floods the socket with attributed datagrams (WATCHDOG=1 and STATUS=,
   as fast as the socket takes them; a blocking send waits while the kernel queue is full, so
   the rate is the listener's) while another program restarts every 0.1 s; datagrams/s, and
   whether supervisord's events stayed answered (no UNKNOWN, every event of the pool seen).

Usage: Tests/Bench/notify.py BINARY [ROUNDS] [DATAGRAMS]
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

BIN = os.path.abspath(sys.argv[1])
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 15
N = int(sys.argv[3]) if len(sys.argv) > 3 else 500000
SUPERVISORD = shutil.which("supervisord")
if not SUPERVISORD:
    sys.exit("notify bench: supervisord missing (make venv)")

tmp = tempfile.mkdtemp(prefix="rp-nbench.")
rundir = tempfile.mkdtemp(prefix="rp-nbench.", dir="/dev/shm") if os.access("/dev/shm", os.W_OK) else tmp + "/run"
sock = rundir + "/readiness-probe/notify.sock"
ledger_path = rundir + "/readiness-probe/ledger.json"
py = sys.executable

open(tmp + "/probe.conf", "w").write(f"""[probe]
rundir = {rundir}
hooks_dir =
sonic_hook =
[supervisor]
source = events
[programs]
notify = lat
[listener]
run_checks = false
""")

# lat: waits for a go file, stamps the time, sends READY=1 from its own pid.
open(tmp + "/lat.py", "w").write(f"""
import os, socket, time
go = "{tmp}/go"
while not os.path.exists(go):
    time.sleep(0.0005)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
t = time.time()
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
open("{tmp}/sent", "w").write(repr(t))
time.sleep(100000)
""")
# flood: waits for a go file, then sends N datagrams from its own pid (attributed).
open(tmp + "/flood.py", "w").write(f"""
import os, socket, sys, time
while not os.path.exists("{tmp}/flood.go"):
    time.sleep(0.01)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
msgs = [b"STATUS=busy %d" % i for i in range(10)] + [b"WATCHDOG=1"]
n, t = {N}, time.time()
for i in range(n):
    s.send(msgs[i % 11])
open("{tmp}/flood.done", "w").write(repr((t, time.time())))
time.sleep(100000)
""")
env = f'environment=NOTIFY_SOCKET="{sock}"'
open(tmp + "/supervisord.conf", "w").write(f"""[unix_http_server]
file={tmp}/s.sock
[supervisord]
nodaemon=true
logfile={tmp}/supervisord.log
pidfile={tmp}/supervisord.pid
childlogdir={tmp}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{tmp}/s.sock
[eventlistener:readiness]
command={BIN} listen --config {tmp}/probe.conf
events=PROCESS_STATE,TICK_5
startsecs=0
buffer_size=1000
priority=1
stderr_logfile={tmp}/listener.err
[program:lat]
command={py} {tmp}/lat.py
{env}
startsecs=0
[program:flood]
command={py} {tmp}/flood.py
{env}
startsecs=0
[program:blinker]
command=sh -c 'sleep 0.1; exit 0'
startsecs=0
autorestart=true
""")

sv = subprocess.Popen([SUPERVISORD, "-n", "-c", tmp + "/supervisord.conf"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ledger():
    try:
        return json.load(open(ledger_path))
    except Exception:
        return None


def entry(l, name):
    return next((p for p in (l or {}).get("programs", []) if p["name"] == name), None)


def wait(cond, timeout=30.0, every=0.0005):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(every)
    return None


def ctl(*args):
    subprocess.run(["supervisorctl", "-c", tmp + "/supervisord.conf", *args], stdout=subprocess.DEVNULL)


try:
    assert wait(lambda: (entry(ledger(), "lat") or {}).get("state") == "RUNNING"), "lat never RUNNING"
    ledger_ms, run_ms = [], []
    for r in range(ROUNDS):
        for f in ("go", "sent"):
            if os.path.exists(f"{tmp}/{f}"):
                os.unlink(f"{tmp}/{f}")
        if r > 0:
            old = entry(ledger(), "lat")["pid"]
            ctl("restart", "lat")
            assert wait(lambda: (e := entry(ledger(), "lat")) and e["state"] == "RUNNING" and e["pid"] != old), "restart"
        assert subprocess.run([BIN, "run", "--config", tmp + "/probe.conf"], stdout=subprocess.DEVNULL).returncode == 12
        open(f"{tmp}/go", "w").close()
        seen = wait(lambda: (e := entry(ledger(), "lat")) and e.get("notify") and e["notify"].get("ready_at") and time.time())
        assert seen, "READY=1 never reached the ledger"
        sent = float(wait(lambda: os.path.exists(f"{tmp}/sent") and open(f"{tmp}/sent").read()))
        ledger_ms.append((seen - sent) * 1000)
        # run: the first `run` started after the send that exits 0.
        while True:
            rc = subprocess.run([BIN, "run", "--config", tmp + "/probe.conf"], stdout=subprocess.DEVNULL).returncode
            if rc == 0:
                run_ms.append((time.time() - sent) * 1000)
                break
            assert time.time() - sent < 10, f"run exit {rc}"
    q = lambda xs: f"median {statistics.median(xs):.1f} ms, max {max(xs):.1f} ms"
    print(f"READY=1 -> ledger (what run reads): {q(ledger_ms)}; -> `run` exits 0: {q(run_ms)} ({ROUNDS} rounds, program restarted between rounds)")

    # supervisord's event rate without a flood (blinker restarts), for comparison.
    time.sleep(1.5)
    b0, tb0 = ledger()["events"], time.time()
    time.sleep(3)
    idle_rate = (ledger()["events"] - b0) / (time.time() - tb0)
    l0 = ledger()
    events0 = l0["events"]
    open(f"{tmp}/flood.go", "w").close()
    done = wait(lambda: os.path.exists(f"{tmp}/flood.done") and open(f"{tmp}/flood.done").read(), timeout=600, every=0.01)
    t0, t1 = eval(done)
    got = wait(lambda: (l := ledger()) and l["notify"]["received"] >= l0["notify"]["received"] + N and (l, time.time()), timeout=60, every=0.01)
    l1, seen = got
    applied = l1["notify"]["applied"] - l0["notify"]["applied"]
    events = l1["events"] - events0
    log = open(tmp + "/supervisord.log").read()
    unknown = "UNKNOWN" in log or "will no longer receive events" in log
    st = entry(l1, "flood")["notify"]["status"]
    print(f"flood: {N} attributed datagrams sent in {t1 - t0:.2f} s = {N / (t1 - t0):,.0f} datagrams/s "
          f"(blocking sends: the listener's pace); {applied} applied; meanwhile {events} supervisord events answered "
          f"({events / (t1 - t0):.0f}/s; {idle_rate:.0f}/s without the flood, ledger written once a second), pool gap-free: {l1['events'] == l1['pool_serial'] + 1}, listener UNKNOWN: {unknown}; "
          f"last STATUS {st!r}; load average {open('/proc/loadavg').read().split()[0]}")
finally:
    sv.terminate()
    try:
        sv.wait(20)
    except subprocess.TimeoutExpired:
        sv.kill()
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(rundir, ignore_errors=True)
