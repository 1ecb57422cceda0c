#!/usr/bin/env bash
# make link-order: regenerate Sources/readiness-probe/link-order.txt, the list of functions the
# release binary runs in its common commands, which `make build` hands to lld
# (--symbol-ordering-file) so that this code sits together at the front of .text.
#
# Why: the kernel maps a static binary's text in 64 KiB blocks around each page fault
# ("fault-around"), so code spread over the 7 MB of .text made a probe touch 5.4 MB of it.
# Packing the hot functions first roughly halves the text a run maps (docs/benchmarks.md).
# A stale list is harmless: functions it misses are placed after the listed ones.
#
# How: build an unstripped release binary with a link map, run the scenarios below under
# callgrind, take every function executed, and order them: functions in their own section first
# (lld can move those one by one), then local C++ symbols the map does not name, and last the
# symbols inside large shared .text sections (libswiftCore's Swift.o is one 1.6 MB section).
# Needs valgrind and supervisord (make venv).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/Sources/readiness-probe/link-order.txt"
SCRATCH="${ORDER_SCRATCH:-$ROOT/.build}"   # the release build's own objects: only a relink
# The release build's own flags (the Makefile passes RELEASE_FLAGS), so that the profiled binary
# has the functions, names and merged thunks of the one `make build` links.
[ -n "${RELEASE_FLAGS:-}" ] || { echo "link-order: run it as make link-order (it passes RELEASE_FLAGS)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "link-order: valgrind missing (apt-get install valgrind)" >&2; exit 1; }
command -v supervisord >/dev/null || { echo "link-order: supervisord missing (make venv)" >&2; exit 1; }
SWIFT="${SWIFT:-swift}"

TMP="$(mktemp -d /tmp/rp-order.XXXXXX)"
SDPID=""
cleanup() {
    [ -n "$SDPID" ] && kill -TERM "$SDPID" 2>/dev/null && wait "$SDPID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck disable=SC2086
"$SWIFT" build --package-path "$ROOT" --scratch-path "$SCRATCH" $RELEASE_FLAGS \
    -Xlinker "-Map=$TMP/link.map" -Xlinker --strip-debug >&2
# Profile a copy; the relinked binary (with symbols, without the order) must not pass for `make build`'s.
BIN="$TMP/readiness-probe"
mv "$SCRATCH/release/readiness-probe" "$BIN"

# A real supervisord: a finished one-shot `start` and three daemons.
D="$TMP/sd"
mkdir -p "$D/hooks.d" "$D/run/readiness-probe"
cat > "$D/supervisord.conf" <<CONF
[unix_http_server]
file=$D/s.sock
[supervisord]
nodaemon=true
logfile=$D/supervisord.log
pidfile=$D/sd.pid
childlogdir=$D
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$D/s.sock
[program:start]
command=/bin/true
startsecs=0
autorestart=false
[program:p1]
command=sleep 100000
startsecs=0
[program:p2]
command=sleep 100000
startsecs=0
[program:p3]
command=sleep 100000
startsecs=0
[eventlistener:readiness]
command=$BIN listen --config $D/rp.conf
events=PROCESS_STATE,PROCESS_GROUP,TICK_5
startsecs=0
buffer_size=1024
priority=1
stderr_logfile=$D/listener.log
CONF
printf '#!/bin/sh\nexit 0\n' > "$D/hooks.d/10-ok"
chmod 755 "$D/hooks.d/10-ok"
cat > "$D/rp.conf" <<CONF
[probe]
timeout = 5s
hooks_dir = $D/hooks.d
sonic_hook =
rundir = $D/run
[supervisor]
serverurl = unix://$D/s.sock
source = xmlrpc
[start]
program = start
[programs]
critical = p1, p2
CONF
sed 's/^source = xmlrpc/source = auto/; s/^critical = p1, p2/critical = */' "$D/rp.conf" > "$D/rp-auto.conf"
sed 's/^source = xmlrpc/source = auto/' "$D/rp.conf" > "$D/rp-ledger.conf"
sed 's/^source = xmlrpc/source = events/' "$D/rp.conf" > "$D/rp-events.conf"
printf "[probe]\nhooks_dir = %s\nsonic_hook =\nrundir = %s\n[start]\nprogram =\n" "$D/hooks.d" "$D/run" > "$D/rp-hooks.conf"

supervisord -n -c "$D/supervisord.conf" > "$D/out" 2>&1 &
SDPID=$!
for _ in $(seq 300); do
    [ "$(supervisorctl -c "$D/supervisord.conf" status 2>/dev/null | grep -c RUNNING)" -ge 3 ] && break
    sleep 0.1
done
# The listener's ledger (source = events answers only from it) and its first result (a TICK_5
# away): so the ledger and `run --cached` runs below take their normal path, trust checks included.
for _ in $(seq 300); do "$BIN" run --config "$D/rp-events.conf" > /dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 300); do "$BIN" run --cached --config "$D/rp.conf" > /dev/null 2>&1 && break; sleep 0.1; done
"$BIN" run --cached --config "$D/rp.conf" > /dev/null 2>&1 || echo "link-order: no cached result from the listener; the profile of run --cached is its failure path" >&2

n=0
profile() { # command args... (under callgrind; exit codes ignored)
    n=$((n + 1))
    valgrind --tool=callgrind --demangle=no --compress-strings=no --dump-instr=no \
        --callgrind-out-file="$TMP/cg.$n" "$BIN" "$@" > /dev/null 2>&1 < "${STDIN:-/dev/null}" || true
}

# The data the common commands touch (valgrind's lackey: every load and store), so that their
# .data/.bss/.rodata sections are packed too: a data page is mapped like a code page (with its
# 64 KiB neighbourhood for the file-backed ones), and a probe touched ~60 .bss pages spread over 330 KiB.
dn=0
dataprofile() { # command args...
    dn=$((dn + 1))
    valgrind --tool=lackey --trace-mem=yes --log-file="$TMP/lackey.log" "$BIN" "$@" > /dev/null 2>&1 < /dev/null || true
    awk '$1 == "L" || $1 == "S" || $1 == "M" { split($2, a, ","); print a[1] }' "$TMP/lackey.log" | sort -u > "$TMP/da.$dn"
    rm -f "$TMP/lackey.log"
}

profile --version
profile --help
profile run --help
profile codes
profile validate --config "$D/rp.conf"
profile run --config "$D/rp-hooks.conf"
profile run --config "$D/rp.conf"
profile run --config "$D/rp.conf" --format json
profile run --config "$D/rp-auto.conf" --format table
profile run --config "$D/rp-ledger.conf"
profile run --config "$D/rp-events.conf" --format json
profile wait --config "$D/rp-ledger.conf"
profile run --cached --config "$D/rp.conf"
profile run --cached --config "$D/rp.conf" --format json
profile state show --unit myapp --rundir "$D/run"
dataprofile --version
dataprofile run --config "$D/rp-hooks.conf"
dataprofile run --config "$D/rp.conf"
dataprofile run --config "$D/rp-ledger.conf"
dataprofile run --cached --config "$D/rp.conf"
dataprofile wait --config "$D/rp-ledger.conf"
sed "s#^rundir = .*#rundir = $D/run2#" "$D/rp.conf" > "$D/rp-listen.conf"   # not the live listener's rundir
mkdir -p "$D/run2"
STDIN="$ROOT/Tests/Fixtures/supervisor/4.3.0-events-stream.bin" profile listen --config "$D/rp-listen.conf"

# serve: a few requests, then SIGTERM (callgrind writes its file on the normal exit).
n=$((n + 1))
: > "$TMP/serve.err"   # before the background start: the loop below reads it at once
valgrind --tool=callgrind --demangle=no --compress-strings=no --dump-instr=no --callgrind-out-file="$TMP/cg.$n" \
    "$BIN" serve --config "$D/rp.conf" --listen 127.0.0.1:0 --period 200ms --quiet 2> "$TMP/serve.err" &
SERVE=$!
port=""
for _ in $(seq 300); do
    port="$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$TMP/serve.err" | head -1)"
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -n "$port" ]; then
    python3 - "$port" <<'PY'
import sys, time, urllib.request
port = sys.argv[1]
for path in ["/readyz", "/readyz", "/livez", "/healthz?verbose", "/readyz?format=json", "/metrics", "/readyz/p1", "/nope"]:
    for _ in range(20):
        try:
            urllib.request.urlopen("http://127.0.0.1:%s%s" % (port, path), timeout=10).read()
            break
        except urllib.error.HTTPError:
            break
        except Exception:
            time.sleep(0.1)
    time.sleep(0.3)
PY
fi
kill -TERM "$SERVE" 2>/dev/null || true
wait "$SERVE" 2>/dev/null || true

nm -n -S "$BIN" > "$TMP/nm.txt"
readelf -SW "$BIN" > "$TMP/sections.txt"
cat "$TMP"/da.* | sort -u > "$TMP/data-addresses.txt"
python3 - "$TMP/link.map" "$OUT" "$TMP/nm.txt" "$TMP/sections.txt" "$TMP/data-addresses.txt" "$TMP"/cg.* <<'PY'
import bisect, re, sys
mapfile, out, nmfile, secfile, datafile, profiles = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
# lld's map: VMA LMA Size Align, then an output section, an input section or a symbol,
# each indented one step further (columns "Out", "In", "Symbol" of the header).
lines = open(mapfile).read().split("\n")
header = lines[0]
col_in, col_sym = header.index("In"), header.index("Symbol")
section_of = {}
current = None
for line in lines[1:]:
    if len(line) <= col_in:
        continue
    if line[col_in] != " " and line[col_in - 1] == " " and not line[col_in - 8:col_in].strip():
        m = re.search(r":\(([^)]*)\)\s*$", line)
        current = (m.group(1) if m else "", int(line.split()[2], 16))
    elif len(line) > col_sym and line[col_sym] != " " and current:
        section_of[line[col_sym:].strip()] = current
executed = set()
for p in profiles:
    for line in open(p, errors="replace"):
        if line.startswith(("fn=", "cfn=")):
            name = re.sub(r"'\d+$", "", line.split("=", 1)[1].strip())
            if name and not name.startswith(("0x", "(")):
                executed.add(name)
# glibc picks its string functions (memmove, strlen, ...) by CPU at start-up (IFUNC): valgrind's
# emulated CPU gets, say, the AVX2 variant where the real machine runs the AVX-512/EVEX one, which
# the profile never names. So every variant of an executed multiarch function is listed.
variant = re.compile(r"^__([a-z0-9]+?)_(sse2|ssse3|sse4_1|sse4_2|avx|avx2|avx512|evex|erms)(_|$)")
bases = {m.group(1) for m in map(variant.match, executed) if m}
executed |= {n for n in section_of if (m := variant.match(n)) and m.group(1) in bases}
# Code valgrind never runs, though the real run does in the probe's own address space:
# posix_spawn's child (clone with CLONE_VM, so its page faults map the parent's text) and the
# vDSO's set-up at start (valgrind offers the program no vDSO). `perf record -e page-faults -d`
# on the release binary shows them (docs/benchmarks.md, "The link order").
executed |= section_of.keys() & {"__sigprocmask", "sigprocmask", "__setpgid", "setpgid", "__setsid", "setsid", "__dup2", "dup2",
             "__execve", "execve", "__closefrom_fallback", "__close_range", "close_range", "_exit", "_Exit",
             "_dl_new_object", "_dl_add_to_namespace_list", "_dl_lookup_symbol_x", "do_lookup_x", "check_match",
             "_dl_setup_hash", "__rtld_static_init", "_dl_vdso_vsym", "setup_vdso"}
def shared_text(name):
    sec, size = section_of[name]
    return sec == ".text" and size > 32768
own = sorted(n for n in executed if n in section_of and not shared_text(n))
local = sorted(n for n in executed if n not in section_of)
shared = sorted(n for n in executed if n in section_of and shared_text(n))
# Data: every symbol of .data, .data.rel.ro, .rodata and .bss that a load or store touched, in
# address order (which keeps an object's data together); lld moves the section holding each.
data_sections = []
for line in open(secfile):
    m = re.match(r"\s*\[\s*\d+\]\s+(\.data\.rel\.ro|\.data|\.rodata|\.bss)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
    if m:
        data_sections.append((int(m.group(2), 16), int(m.group(3), 16)))
symbols = []
for line in open(nmfile):
    p = line.split()
    if len(p) == 4 and p[2] in "dDbBrRvV":
        symbols.append((int(p[0], 16), int(p[1], 16), p[3]))
symbols.sort()
starts = [x[0] for x in symbols]
touched = set()
for line in open(datafile):
    a = int(line, 16)
    if not any(s <= a < s + z for s, z in data_sections):
        continue
    i = bisect.bisect_right(starts, a) - 1
    if i >= 0 and symbols[i][0] <= a < symbols[i][0] + max(symbols[i][1], 1):
        touched.add(i)
data = [symbols[i][2] for i in sorted(touched)]
with open(out, "w") as f:
    f.write("\n".join(own + local + shared + data) + "\n")
print("link-order: %d functions (%d in their own section, %d local, %d in shared .text) from %d runs, %d data symbols -> %s"
      % (len(executed), len(own), len(local), len(shared), len(profiles), len(data), out))
PY
