#!/usr/bin/env bash
# make bench: readiness-probe against a SONiC-style bash probe on the same real supervisord,
# plus scaling in programs and hooks, startup and size. Prints Markdown for docs/benchmarks.md.
# Needs hyperfine (Debian package) and supervisord (make venv).
set -euo pipefail
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
HERE="$(cd "$(dirname "$0")" && pwd)"
RUNS="${BENCH_RUNS:-60}"
command -v hyperfine >/dev/null || { echo "bench: hyperfine missing (apt-get install hyperfine)" >&2; exit 1; }
command -v supervisord >/dev/null || { echo "bench: supervisord missing (make venv)" >&2; exit 1; }
# BENCH_RT=1 (root, chrt): section 1 runs supervisord and the measured commands SCHED_FIFO, so that on
# a shared machine the other load does not decide the medians: it stands for a quiet machine
# (docs/benchmarks.md, "How to measure on a shared machine"). Every other section runs as usual.
RT=""
if [ "${BENCH_RT:-0}" = 1 ]; then
    command -v chrt >/dev/null && [ "$(id -u)" = 0 ] || { echo "bench: BENCH_RT=1 needs root and chrt" >&2; exit 1; }
    RT="chrt -f 10"
fi
TMP="$(mktemp -d /tmp/rp-bench.XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# start_supervisord DIR N_PROGRAMS [LISTENER]: a supervisord with a finished one-shot `start`
# and N sleeping daemons; waits until all are up.
start_supervisord() {
    local dir="$1" n="$2" listener="${3:-}"
    mkdir -p "$dir"
    {
        echo "[unix_http_server]"; echo "file=$dir/s.sock"
        echo "[supervisord]"; echo "nodaemon=true"; echo "logfile=$dir/supervisord.log"; echo "pidfile=$dir/sd.pid"; echo "childlogdir=$dir"
        echo "[rpcinterface:supervisor]"; echo "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface"
        echo "[supervisorctl]"; echo "serverurl=unix://$dir/s.sock"
        echo "[program:start]"; echo "command=/bin/true"; echo "startsecs=0"; echo "autorestart=false"
        for i in $(seq "$n"); do
            echo "[program:p$i]"; echo "command=sleep 100000"; echo "startsecs=0"
            echo "stdout_logfile=NONE"; echo "stderr_logfile=NONE"
        done
        if [ -n "$listener" ]; then
            echo "[eventlistener:readiness]"; echo "command=$BIN listen --config $dir/rp.conf"
            echo "events=PROCESS_STATE,PROCESS_GROUP,TICK_5"; echo "startsecs=0"; echo "buffer_size=1024"; echo "priority=1"
            echo "stderr_logfile=$dir/listener.log"
        fi
    } > "$dir/supervisord.conf"
    ${RT_PREFIX:-} supervisord -n -c "$dir/supervisord.conf" >"$dir/out" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 600); do
        if [ -S "$dir/s.sock" ] && [ "$(supervisorctl -c "$dir/supervisord.conf" status 2>/dev/null | grep -c RUNNING)" -ge "$n" ]; then return 0; fi
        sleep 0.1
    done
    echo "bench: supervisord with $n programs did not come up" >&2; exit 1
}

probe_conf() { # DIR HOOKS_DIR [CRITICAL]
    cat > "$1/rp.conf" <<CONF
[probe]
timeout = 5s
hooks_dir = $2
sonic_hook =
rundir = $1
[supervisor]
serverurl = unix://$1/s.sock
[start]
program = start
[programs]
critical = ${3:-*}
CONF
}

hooks_dir() { # DIR N [HANG]
    local d="$1/hooks.d" n="$2" hang="${3:-0}"
    mkdir -p "$d"
    for i in $(seq "$n"); do printf '#!/bin/sh\nexit 0\n' > "$d/h$(printf %03d "$i")"; done
    for i in $(seq "$hang"); do printf '#!/bin/sh\nsleep 30\n' > "$d/x$(printf %03d "$i")"; done
    chmod 755 "$d"/* 2>/dev/null || true
    echo "$d"
}

median_ms() { # hyperfine JSON -> median ms
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print("\n".join("%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f" % (x["command"], x["median"]*1000, x["min"]*1000, x["max"]*1000, x["user"]*1000, x["system"]*1000) for x in r))' "$1"
}

max_rss_kb() { # command... : max RSS over 10 runs, KiB
    local m=0 v
    for _ in $(seq 10); do
        v=$(/usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1)
        [ "$v" -gt "$m" ] && m=$v
    done
    echo "$m"
}

echo "# readiness-probe benchmarks"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "- machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "- binary: $BIN ($(stat -c %s "$BIN") bytes, $(file -b "$BIN" | cut -d, -f1-2))"
echo "- supervisord: $(supervisord --version)"
echo "- runs per command: $RUNS (hyperfine -N --warmup 5)"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$RT" ] && echo "- section 1 ran SCHED_FIFO (BENCH_RT=1: supervisord, its children and every measured command, shielded from the machine's other load)"
echo

# 1. Side by side on one supervisord with 50 programs and the listener.
D="$TMP/s50"
mkdir -p "$D"
HD="$(hooks_dir "$D" 1)"
probe_conf "$D" "$HD" "p1, p2"
sed 's/^\[supervisor\]$/[supervisor]\nsource = xmlrpc/' "$D/rp.conf" > "$D/rp-xmlrpc.conf"
{ cat "$D/rp-xmlrpc.conf"; printf '[history]\nenabled = false\n'; } > "$D/rp-xmlrpc-nohistory.conf"
RT_PREFIX="$RT" start_supervisord "$D" 50 listener
for _ in $(seq 100); do "$BIN" run --cached --config "$D/rp.conf" >/dev/null 2>&1 && break; sleep 0.2; done
HOOK="$HD/h001"
# /bin/true first: the machine's own cost of a process at the same moment (docs/benchmarks.md).
# shellcheck disable=SC2086
$RT hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$TMP/side.json" \
    -n "/bin/true (the same moment)" "/bin/true" \
    -n "sonic-style bash + supervisorctl" "bash $HERE/sonic_readiness_probe.sh $D/supervisord.conf $HOOK" \
    -n "readiness-probe run (source = xmlrpc: one multicall)" "$BIN run --config $D/rp-xmlrpc.conf" \
    -n "readiness-probe run (source = xmlrpc, [history] enabled = false)" "$BIN run --config $D/rp-xmlrpc-nohistory.conf" \
    -n "readiness-probe run (source = auto: the listener's ledger)" "$BIN run --config $D/rp.conf" \
    -n "readiness-probe run --cached" "$BIN run --cached --config $D/rp.conf" >/dev/null
echo "## 1. Side by side: 50 programs, start + programs (critical = p1, p2) + one trivial hook"
echo
echo "| command | median ms | min ms | max ms | user ms | sys ms | max RSS KiB |"
echo "|---|---|---|---|---|---|---|"
rss=("$(max_rss_kb /bin/true)"
     "$(max_rss_kb bash "$HERE/sonic_readiness_probe.sh" "$D/supervisord.conf" "$HOOK")"
     "$(max_rss_kb "$BIN" run --config "$D/rp-xmlrpc.conf")"
     "$(max_rss_kb "$BIN" run --config "$D/rp-xmlrpc-nohistory.conf")"
     "$(max_rss_kb "$BIN" run --config "$D/rp.conf")"
     "$(max_rss_kb "$BIN" run --cached --config "$D/rp.conf")")
i=0
while IFS=$'\t' read -r name med min max usr sys; do
    echo "| $name | $med | $min | $max | $usr | $sys | ${rss[$i]} |"
    i=$((i+1))
done < <(median_ms "$TMP/side.json")
python3 - "$TMP/side.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
t, s, x, xn, a, c = (v["median"] for v in r)
print(f"\nRatios (median wall) against the SONiC-style script: xmlrpc {s/x:.1f}x (history off {s/xn:.1f}x), ledger {s/a:.1f}x, --cached {s/c:.1f}x faster; /bin/true {t*1000:.2f} ms.")
PY
echo

# 2. Scaling in programs (one XML-RPC round trip, whatever the count).
echo "## 2. Scaling in supervisor programs (start + programs critical = *, no hooks)"
echo
echo "The second column is supervisord's own answer time for the same call (getAllProcessInfo, measured"
echo "with curl over the same socket): the probe's time is mostly supervisord's."
echo
echo "| programs | curl getAllProcessInfo median ms | probe median ms | probe min ms | probe max ms |"
echo "|---|---|---|---|---|"
printf '<?xml version="1.0"?><methodCall><methodName>supervisor.getAllProcessInfo</methodName><params></params></methodCall>' > "$TMP/body.xml"
for n in 1 10 100 500; do
    D="$TMP/p$n"; mkdir -p "$D"; probe_conf "$D" ""
    start_supervisord "$D" "$n"
    hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$TMP/c$n.json" \
        "curl -s -o /dev/null --unix-socket $D/s.sock -H Content-Type:text/xml --data @$TMP/body.xml http://localhost/RPC2" >/dev/null || true
    hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$TMP/p$n.json" "$BIN run --config $D/rp.conf" >/dev/null || true
    curl_med=$(median_ms "$TMP/c$n.json" | cut -f2)
    median_ms "$TMP/p$n.json" | while IFS=$'\t' read -r _ med min max _ _; do echo "| $n | $curl_med | $med | $min | $max |"; done
    kill -TERM "${PIDS[-1]}"
done
echo

# 3. Scaling in hooks (concurrent: bounded by the slowest, not the sum).
echo "## 3. Scaling in hooks (no supervisord; trivial hooks; one poll loop)"
echo
echo "| hooks | median ms | min ms | max ms | max RSS KiB |"
echo "|---|---|---|---|---|"
for n in 1 10 50; do
    D="$TMP/h$n"; mkdir -p "$D"
    HD="$(hooks_dir "$D" "$n")"
    printf '[probe]\nhooks_dir = %s\nsonic_hook =\n[start]\nprogram =\n' "$HD" > "$D/rp.conf"
    hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$TMP/h$n.json" "$BIN run --config $D/rp.conf" >/dev/null
    rss=$(max_rss_kb "$BIN" run --config "$D/rp.conf")
    median_ms "$TMP/h$n.json" | while IFS=$'\t' read -r _ med min max _ _; do echo "| $n | $med | $min | $max | $rss |"; done
done
D="$TMP/hang"; mkdir -p "$D"
HD="$(hooks_dir "$D" 16 4)"
printf '[probe]\nhooks_dir = %s\nhook_timeout = 200ms\nsonic_hook =\n[start]\nprogram =\n' "$HD" > "$D/rp.conf"
hyperfine -N -i --warmup 1 --runs 10 --export-json "$TMP/hang.json" "$BIN run --config $D/rp.conf" >/dev/null
median_ms "$TMP/hang.json" | while IFS=$'\t' read -r _ med min max _ _; do echo "| 16 trivial + 4 hanging (200 ms timeouts) | $med | $min | $max |"; done
echo

# 4. Startup and size.
echo "## 4. Startup and size"
echo
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$TMP/start.json" "$BIN --version" "/bin/true" >/dev/null
echo "| command | median ms | min ms | max ms |"
echo "|---|---|---|---|"
median_ms "$TMP/start.json" | while IFS=$'\t' read -r name med min max _ _; do echo "| $name | $med | $min | $max |"; done
echo
echo "Binary: $(stat -c %s "$BIN") bytes (stripped, fully static). Max RSS of --version: $(max_rss_kb "$BIN" --version) KiB."

# 5. Instructions per command (callgrind): unlike wall time, these do not move with the VM's
# noise, so they show what a change did. Skipped without valgrind.
if command -v valgrind >/dev/null; then
    instr() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | awk '/refs:/ {print $NF}'; }
    faults() { /usr/bin/time -f "%R" "$@" 2>&1 >/dev/null | tail -1; }
    echo
    echo "## 5. Instructions and page faults per command (callgrind; /usr/bin/time)"
    echo
    echo "| command | instructions | minor page faults |"
    echo "|---|---|---|"
    H1="$TMP/h1/rp.conf"
    H1CORE="$TMP/h1/rp-nohistory.conf"
    { cat "$H1"; printf '[history]\nenabled = false\n'; } > "$H1CORE"
    # The probe-path budgets (docs/architecture.md, "The probe path"): the runtime's first use of
    # a new Set/Dictionary key type or a protocol cast costs ~0.1M instructions, so a one-shot
    # command that grows past its budget has most likely gained one. Override with the variables.
    # Measured 2026-12-01 (docs/benchmarks.md, section 14): 0.69M / 0.92M / 1.83M / 2.27M; about 10%
    # above, so that one new ~0.1M look-up fails the bench (one did: OutputFormat.choices' generic joined).
    # The history file (docs/history.md, on by default) adds ~0.08-0.11M to a run: the one-hook run is
    # measured both ways, the core path (history off) against the old budget.
    INSTR_BUDGET_HOOK="${INSTR_BUDGET_HOOK:-880000}"
    INSTR_BUDGET_HOOK_CORE="${INSTR_BUDGET_HOOK_CORE:-760000}"
    # 2026-12-01 13:34Z (the XML-RPC call on the executor's loop, docs/benchmarks.md section 16):
    # --cached 0.85M, XML-RPC 1.55M: their budgets came down with them.
    INSTR_BUDGET_CACHED="${INSTR_BUDGET_CACHED:-930000}"
    INSTR_BUDGET_XMLRPC="${INSTR_BUDGET_XMLRPC:-1710000}"
    INSTR_BUDGET_LEDGER="${INSTR_BUDGET_LEDGER:-2500000}"
    OVER=()
    for args in "--version" "run --config $H1" "run --config $H1CORE" "run --cached --config $TMP/s50/rp.conf" "run --config $TMP/s50/rp-xmlrpc.conf" "run --config $TMP/s50/rp.conf" "wait --config $H1"; do
        # shellcheck disable=SC2086
        n="$(instr "$BIN" $args)"
        # shellcheck disable=SC2086
        echo "| \`readiness-probe ${args//$TMP/\$TMP}\` | $n | $(faults "$BIN" $args) |"
        budget=""
        case "$args" in
            "run --config $H1") budget="$INSTR_BUDGET_HOOK" ;;
            "run --config $H1CORE") budget="$INSTR_BUDGET_HOOK_CORE" ;;
            "run --cached "*) budget="$INSTR_BUDGET_CACHED" ;;
            "run --config $TMP/s50/rp-xmlrpc.conf") budget="$INSTR_BUDGET_XMLRPC" ;;
            "run --config $TMP/s50/rp.conf") budget="$INSTR_BUDGET_LEDGER" ;;
        esac
        if [ -n "$budget" ] && [ "${n//,/}" -gt "$budget" ]; then OVER+=("$args: $n instructions > budget $budget"); fi
    done
    if [ "${#OVER[@]}" -gt 0 ]; then
        printf 'bench: over the probe-path budget (docs/architecture.md, "The probe path"): %s\n' "${OVER[@]//$TMP/\$TMP}" >&2
        exit 1
    fi
fi

# 11. What the trust checks of the ledger and the cached result cost (#11): the system calls of one
# `run --cached` and one ledger run (strace), and how many of them the checks make (the folder
# and file opens and fstats, /proc/PID/stat of the listener and supervisord, the boot id).
# (Instructions inside the checks alone cannot be isolated: the release binary is stripped, and
# valgrind cannot read the debug info of this toolchain's unstripped builds; section 5 has the
# whole command's count.) Skipped without strace.
if command -v strace >/dev/null; then
    echo
    echo "## 11. The trust checks (#11): system calls per command"
    echo
    echo "| command | system calls | of them for the trust checks |"
    echo "|---|---|---|"
    for args in "run --cached --config $TMP/s50/rp.conf" "run --config $TMP/s50/rp.conf"; do
        # shellcheck disable=SC2086
        strace -f -o "$TMP/strace.txt" "$BIN" $args >/dev/null 2>&1 || true
        total=$(grep -vc -e '+++ exited' -e '--- SIG' "$TMP/strace.txt")
        # From opening the rundir's readiness-probe folder to the last /proc/PID/stat close.
        trust=$(awk '/readiness-probe", O_RDONLY\|O_NONBLOCK\|O_NOFOLLOW\|O_CLOEXEC\|O_DIRECTORY/ {on=1} on {n++} on && /\/proc\/[0-9]+\/stat/ {last=n} END {print last+3}' "$TMP/strace.txt")
        echo "| \`readiness-probe ${args//$TMP/\$TMP}\` | $total | $trust |"
    done
fi

# 12. What the file-trust checks of hooks and the config cost (#11 items 4, 5, 9): TrustedPath stats
# every folder on the way to the config, hooks_dir and each hook. One trivial hook, with the config
# and hooks_dir one folder below $TMP, then eight folders deeper: the difference is the cost of
# 2 x 8 more folder checks (config and hooks_dir) plus 8 for the hook. (The release binary is
# stripped, so callgrind cannot attribute instructions to the functions; the totals show it.)
if command -v valgrind >/dev/null; then
    F="$TMP/files"; DEEP="$F/a/b/c/d/e/f/g/h"
    mkdir -p "$F/hooks.d" "$DEEP/hooks.d"
    printf '#!/bin/sh\nexit 0\n' > "$F/hooks.d/10-h"; cp "$F/hooks.d/10-h" "$DEEP/hooks.d/10-h"
    chmod 755 "$F/hooks.d/10-h" "$DEEP/hooks.d/10-h"
    for d in "$F" "$DEEP"; do
        printf '[probe]\nhooks_dir = %s/hooks.d\nsonic_hook =\n[start]\nprogram =\n' "$d" > "$d/rp.conf"
    done
    hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$TMP/files.json" \
        "$BIN run --config $F/rp.conf" "$BIN run --config $DEEP/rp.conf" >/dev/null
    echo
    echo "## 12. The file-trust checks of hooks and config (#11): folder depth"
    echo
    echo "| config and hooks_dir in | instructions | median ms |"
    echo "|---|---|---|"
    i=0
    for d in "$F" "$DEEP"; do
        med=$(python3 -c "import json;print('%.2f'%(json.load(open('$TMP/files.json'))['results'][$i]['median']*1000))")
        echo "| \`${d//$TMP/\$TMP}\` | $(instr "$BIN" run --config "$d/rp.conf") | $med |"
        i=$((i+1))
    done
fi
