#!/usr/bin/env bash
# make e2e: the example images (examples/container, examples/sonic) built and probed under a
# real container runtime (podman + runc), exactly as the kubelet's exec probe does: the
# runtime's exec of the probe, with a timeout, reading the exit code and the first line.
# Usage: Tests/E2E/e2e.sh [BIN]     (default .build/release/readiness-probe; `make build` first)
# BENCH=1 also measures the node's cost per probe (Tests/E2E/bench.sh).
# Ends with `e2e: N passed, M failed`; exit 0 only with no failure. Without root, or without
# podman and no way to install it: one `e2e: SKIP: reason` line, exit 0.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib.sh"
BIN="${1:-$ROOT/.build/release/readiness-probe}"
T0=$(date +%s)

if [ "$(id -u)" != 0 ]; then
    echo "e2e: SKIP: not root (podman with runc needs root on this machine; CI runs as root)"
    exit 0
fi
if ! command -v podman >/dev/null && ! command -v apt-get >/dev/null; then
    echo "e2e: SKIP: podman is not installed and there is no apt-get to install it"
    exit 0
fi
"$ROOT/Tests/deps.sh"
for tool in podman runc debootstrap; do
    command -v "$tool" >/dev/null || { echo "e2e: FAIL: $tool missing after Tests/deps.sh (apt-get install podman runc debootstrap)"; exit 1; }
done
[ -x "$BIN" ] || { echo "e2e: FAIL: $BIN missing (make build)"; exit 1; }

mkdir -p "$E2E_DIR"
# One run at a time per store (a second run waits at most 10 minutes).
exec 9>"$E2E_DIR/lock"
flock -w 600 9 || { echo "e2e: FAIL: another make e2e holds $E2E_DIR/lock"; exit 1; }

WORK="$(mktemp -d "$E2E_DIR/work.XXXXXX")"
GEN=rp-e2e-generic SON=rp-e2e-sonic
GEN_IMG=localhost/rp-e2e-generic:latest SON_IMG=localhost/rp-e2e-sonic:latest

# Containers, volumes and the example images go, whatever happened; the cached base image
# stays in the private store (that is the cache).
cleanup() {
    pm rm -f -a -t 0 >/dev/null 2>&1
    pm volume rm -a -f >/dev/null 2>&1
    pm rmi -f "$GEN_IMG" "$SON_IMG" localhost/rp-e2e-trust:latest >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "e2e: interrupted"; exit 130' INT TERM
cleanup_leftovers() { pm rm -f -a -t 0 >/dev/null 2>&1; pm volume rm -a -f >/dev/null 2>&1; }

PASSED=0 FAILED=0 KNOWN=0
FAILURES=()
# Checks named in known-failures.txt (one name per line, with the issue) that fail are
# printed as KNOWN and do not fail the run; a listed check that passes is reported.
KNOWN_LIST="$(grep -v '^#' "$HERE/known-failures.txt" 2>/dev/null | awk 'NF {print $1}')"
ok() {
    PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"
    if grep -qxF -- "$1" <<<"$KNOWN_LIST"; then printf '  FIXED %s passed this time (listed in Tests/E2E/known-failures.txt: remove it once it always does)\n' "$1"; fi
}
bad() {
    local name="$1"; shift
    if grep -qxF -- "$name" <<<"$KNOWN_LIST"; then
        KNOWN=$((KNOWN + 1)); printf '  KNOWN %s: %s (known-failures.txt)\n' "$name" "$*"
    else
        FAILED=$((FAILED + 1)); FAILURES+=("$name"); printf '  FAIL  %s: %s\n' "$name" "$*"
    fi
}
check() { local name="$1" why="$2"; shift 2; if "$@"; then ok "$name"; else bad "$name" "$why"; return 1; fi; }
# E2E_ONLY="generic sonic trust" picks groups of checks (the images are always built).
want() { [ -z "${E2E_ONLY:-}" ] || [[ " $E2E_ONLY " == *" $1 "* ]]; }
section() { printf '\n== %s (t+%ss)\n' "$*" "$(( $(date +%s) - T0 ))"; }

now_us() { echo "${EPOCHREALTIME/./}"; }
# The runtime exec's own timeout for a probe whose answer is checked (not its timing): `podman
# exec` itself (conmon, runc) takes seconds on a loaded 2-core machine, and a 5 s timeout there
# once gave 124 for a probe that answered in milliseconds. 30 s is far past every deadline the
# probe has of its own (4 s), so a 124 still means a hang. The kubelet's timeoutSeconds (5) is
# checked where it is the point: the section "Kubernetes semantics" below.
PROBE_T="${E2E_EXEC_TIMEOUT:-30}"
# pexec CTR TIMEOUT CMD...: one runtime exec, as the kubelet's exec probe: RC, OUT (stdout),
# LINE (its first line) and MS (wall time). A timeout gives RC 124, as the kubelet's does.
pexec() {
    local ctr="$1" t="$2"; shift 2
    local t0; t0=$(now_us)
    OUT="$(timeout -k 2 "$t" "${PM[@]}" exec "$ctr" "$@" 2>"$WORK/exec.$BASHPID.err")"
    RC=$?
    MS=$(( ($(now_us) - t0) / 1000 ))
    LINE="${OUT%%$'\n'*}"
}
# sh_in CTR SCRIPT: a shell command in the container (not a probe); its output on stdout.
sh_in() { timeout -k 2 20 "${PM[@]}" exec "$1" sh -c "$2" 2>/dev/null; }

# probe_until CTR WANT DEADLINE CMD...: the probe every second (periodSeconds 1) until it
# exits WANT or DEADLINE seconds pass. CODES: every code seen, in order. Returns 1 at the deadline.
probe_until() {
    local ctr="$1" want="$2" deadline=$(( $(date +%s) + $3 )); shift 3
    CODES=""
    while :; do
        pexec "$ctr" "$PROBE_T" "$@"
        CODES="$CODES $RC"
        [ "$RC" = "$want" ] && return 0
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 1
    done
}
# until_true DEADLINE CMD...: CMD every 0.5 s until it succeeds; 1 at the deadline.
until_true() {
    local deadline=$(( $(date +%s) + $1 )); shift
    while ! "$@"; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.5
    done
}
# run/start/restart/stop: podman logs that it cannot add healthcheck timers without systemd
# (`podman healthcheck run` works without them); that goes to a file, shown on failure.
pmq() { "${PM[@]}" "$@" >"$WORK/podman.out" 2>"$WORK/podman.err" || { sed 's/^/    podman: /' "$WORK/podman.err" | tail -5; return 1; }; }
# burst CTR CMD...: 8 probes started 0.15 s apart, at once; BURST: their codes, in start order.
burst() {
    local ctr="$1" i; shift
    for i in 1 2 3 4 5 6 7 8; do
        ( pexec "$ctr" 5 "$@"; echo "$RC" > "$WORK/burst.$i" ) &
        sleep 0.15
    done
    wait
    BURST=""
    for i in 1 2 3 4 5 6 7 8; do BURST="$BURST $(cat "$WORK/burst.$i" 2>/dev/null || echo none)"; done
    rm -f "$WORK"/burst.*
}
state_of() { pm inspect --format '{{.State.Status}}' "$1" 2>/dev/null; }
exited() { [ "$(state_of "$1")" = exited ]; }
# The codes before the first 0 are all in the allowed set, and the sequence ends in 0.
codes_within() { local allowed=" $1 " c; for c in $CODES; do [ "$c" = 0 ] && return 0; [[ "$allowed" == *" $c "* ]] || return 1; done; return 1; }
has_code() { [[ " $CODES " == *" $1 "* ]]; }

# supervisorctl's view, for cross-checking a probe's 0: start EXITED, every critical RUNNING.
sup_agrees_ready() {   # CTR PROGRAMS...
    local ctr="$1"; shift
    local st; st="$(sh_in "$ctr" 'supervisorctl status')" || true
    SUPSTATUS="$st"
    grep -qE '^start +EXITED' <<<"$st" || return 1
    local p; for p in "$@"; do grep -qE "^$p +RUNNING" <<<"$st" || return 1; done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# http_get PATH: HTTP_CODE and HTTP_XCODE (X-Readiness-Code) of GET http://127.0.0.1:PORT/PATH from the host.
http_get() {
    local r
    r="$(python3 - "$SERVE_PORT" "$1" <<'PY'
import http.client, sys
try:
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    c.request("GET", sys.argv[2])
    r = c.getresponse(); r.read()
    print(r.status, r.getheader("X-Readiness-Code") or "-")
except Exception as e:
    print("000 -")
PY
)"
    HTTP_CODE="${r%% *}" HTTP_XCODE="${r##* }"
}
readyz_is() { http_get /readyz; [ "$HTTP_CODE" = "$1" ]; }

# After a restart with /run kept (a volume, as an emptyDir): supervisord is pid 1 again, the
# old ledger and the old flags are there. start.sh takes START_SECONDS again, so a 0 sooner
# than that after the restart is a lie; and when the probe first says 0, supervisorctl must agree.
after_restart() {   # NAME CTR PROBE... (podman start/restart has just returned, at $RESTARTED)
    local name="$1" ctr="$2"; shift 2
    local deadline=$(( $(date +%s) + 60 )) first0=""
    # A burst first: 8 probes 0.15 s apart, while supervisord and its listener are starting
    # (the old ledger is the only thing that could say ready then).
    burst "$ctr" "$@"
    check "$name-burst" "no 0 in a burst of probes in the first seconds (got:$BURST)" test "${BURST/ 0/}" = "$BURST"
    CODES=""
    while :; do
        pexec "$ctr" "$PROBE_T" "$@"
        CODES="$CODES $RC"
        if [ "$RC" = 0 ]; then first0=$(( ($(now_us) - RESTARTED) / 1000 )); break; fi
        [ "$(date +%s)" -ge "$deadline" ] && break
        sleep 0.3
    done
    check "$name-ready" "ready again within 60 s (seen:$CODES)" test -n "$first0"
    [ -n "$first0" ] || return
    check "$name-not-early" "the first 0 came ${first0} ms after the restart: start.sh alone takes ${START_SECONDS}000 (seen:$CODES)" \
        test "$first0" -ge $(( START_SECONDS * 1000 ))
}

# ---------------------------------------------------------------------------------------
START_SECONDS=4
SERVE_PORT="$(free_port)"
section "images"
cleanup_leftovers
t=$(date +%s)
if ! "$HERE/base.sh"; then echo "e2e: FAIL: the base image could not be built"; exit 1; fi
log "base image ready ($(( $(date +%s) - t ))s)"

# The build context: what the Dockerfiles COPY, laid out as in the repository (a small
# context instead of the whole checkout with .build/).
CTX="$WORK/ctx"
mkdir -p "$CTX/.build/release"
cp -L "$BIN" "$CTX/.build/release/readiness-probe"
cp -R "$ROOT/hooks" "$ROOT/examples" "$CTX/"
build() {   # IMAGE DOCKERFILE LOG
    local t=$(date +%s)
    # --format docker keeps HEALTHCHECK (the OCI format drops it); --pull=never: no registry.
    if timeout 600 "${PM[@]}" build --format docker --pull=never --network host "${ULIMITS[@]}" --layers=false \
        -f "$CTX/$2" -t "$1" "$CTX" >"$3" 2>&1; then
        log "built $1 in $(( $(date +%s) - t ))s"
        return 0
    fi
    tail -20 "$3" | sed 's/^/    /'
    return 1
}
check image-generic "podman build examples/container/Dockerfile (validate is its build gate)" build "$GEN_IMG" examples/container/Dockerfile "$WORK/build-generic.log"
check image-sonic "podman build examples/sonic/Dockerfile" build "$SON_IMG" examples/sonic/Dockerfile "$WORK/build-sonic.log"
pm image exists "$GEN_IMG" && pm image exists "$SON_IMG" || { echo "e2e: 0 passed, $((FAILED)) failed (no images)"; exit 1; }
hc_kept() { pm image inspect --format '{{json .Config.Healthcheck}}' "$1" | grep -q 'readiness'; }
check healthcheck-in-image "HEALTHCHECK kept in the image config (--format docker)" hc_kept "$GEN_IMG"

# validate is the build gate: it ran in the build, and a bad config fails a build (a small
# Dockerfile on top of the example image, with the example's own RUN line).
gate_ran() { grep -q '^ok: /etc/readiness-probe/readiness-probe.conf' "$WORK/build-generic.log"; }
check validate-ran "readiness-probe validate ran in the build (build log)" gate_ran
bad_gate() {
    mkdir -p "$CTX/bad"
    printf '[probe]\nnosuchkey = 1\n' > "$CTX/bad/readiness-probe.conf"
    { echo "FROM $GEN_IMG"
      echo "COPY bad/readiness-probe.conf /etc/readiness-probe/readiness-probe.conf"
      grep -A1 '^RUN chmod' "$CTX/examples/container/Dockerfile"; } > "$CTX/bad/Dockerfile"
    ! timeout 300 "${PM[@]}" build --format docker --pull=never --network host "${ULIMITS[@]}" --layers=false \
        -f "$CTX/bad/Dockerfile" -t localhost/rp-e2e-bad:latest "$CTX" >"$WORK/bad.log" 2>&1 \
        && grep -q 'nosuchkey' "$WORK/bad.log"
}
check validate-gate "a bad readiness-probe.conf fails the image build" bad_gate
pm rmi -f localhost/rp-e2e-bad:latest >/dev/null 2>&1

# ---------------------------------------------------------------------------------------
hc_is() { timeout 20 "${PM[@]}" healthcheck run "$1" >"$WORK/hc.out" 2>&1; local rc=$?; [ "$2" = 0 ] && [ $rc = 0 ] || { [ "$2" != 0 ] && [ $rc != 0 ]; }; }
cached_is() { pexec "$1" "$PROBE_T" /usr/bin/readiness-probe run --cached; [ "$RC" = "$2" ]; }
# The two example containers; /run is a named volume (kept across restarts, as an emptyDir).
run_gen() {
    pmq run -d --name "$GEN" --network host "${ULIMITS[@]}" -v "${GEN_VOL:-rp-e2e-gen-run}":/run \
        -e START_SECONDS=$START_SECONDS -e READY_DELAY=6 -e READINESS_SERVE_LISTEN="127.0.0.1:$SERVE_PORT" \
        "$GEN_IMG"
}
run_son() {
    pmq run -d --name "$SON" --network host "${ULIMITS[@]}" -v "${SON_VOL:-rp-e2e-son-run}":/run -e START_SECONDS=$START_SECONDS "$SON_IMG"
}

if want generic; then
section "generic example: start, ready, broken, repaired"
# READY_DELAY=6: webd writes its flag 6 s after it starts, after start.sh is done (4 s), so a
# crash restart has a window where only the old flag exists (the stale-flag check below).
check run-generic "podman run the generic image" run_gen

# Right after start: supervisord may not have its socket yet (3), start.sh runs (2), webd's
# flag is not written yet (20); then 0. Nothing else, and the first line says it.
probe_until "$GEN" 0 60 /usr/bin/readiness-probe run
check start-then-ready "codes 3/2/20 then 0 within 60 s (seen:$CODES)" codes_within "3 2 20"
check start-code-2-seen "code 2 while start.sh runs (seen:$CODES)" has_code 2
check ready-first-line "first line 'ready: ...' (got: $LINE)" test "${LINE#ready: }" != "$LINE"
check ready-agrees "supervisorctl agrees when the probe says 0" sup_agrees_ready "$GEN" syncd webd
pexec "$GEN" "$PROBE_T" /usr/bin/readiness_probe.sh
check sonic-dropin-ready "/usr/bin/readiness_probe.sh exits 0 when ready (got $RC: $LINE)" test "$RC" = 0

check cached-ready "run --cached gives 0 within 30 s (listener's TICK_5)" until_true 30 cached_is "$GEN" 0
check readyz-200 "GET /readyz from the host gives 200 within 30 s (serve)" until_true 30 readyz_is 200
check healthcheck-healthy "podman healthcheck run says healthy" until_true 30 hc_is "$GEN" 0

sh_in "$GEN" 'supervisorctl stop syncd' >/dev/null
pexec "$GEN" "$PROBE_T" /usr/bin/readiness-probe run
check stopped-code-4 "supervisorctl stop syncd: the next probe gives 4 (got $RC: $LINE)" test "$RC" = 4
check stopped-line "first line names syncd (got: $LINE)" grep -q syncd <<<"$LINE"
pexec "$GEN" "$PROBE_T" /usr/bin/readiness_probe.sh
check sonic-dropin-stopped "readiness_probe.sh gives 4 too (got $RC)" test "$RC" = 4
check cached-stopped "run --cached gives 4 within 30 s" until_true 30 cached_is "$GEN" 4
check readyz-503 "GET /readyz gives 503, X-Readiness-Code 4, within 30 s" until_true 30 eval 'readyz_is 503 && [ "$HTTP_XCODE" = 4 ]'
check healthcheck-unhealthy "podman healthcheck run fails while syncd is stopped" until_true 30 hc_is "$GEN" 1
sh_in "$GEN" 'supervisorctl start syncd' >/dev/null
probe_until "$GEN" 0 40 /usr/bin/readiness-probe run
check restarted-ready "supervisorctl start syncd: 0 again within 40 s (seen:$CODES)" test "$RC" = 0

# The webd hook's flag: missing, then stale (a pid that is not webd), then repaired.
sh_in "$GEN" 'mv /run/webd.ready /run/webd.ready.saved'
pexec "$GEN" "$PROBE_T" /usr/bin/readiness-probe run
check hook-missing-flag "webd's flag removed: the hook's own code 20 (got $RC: $LINE)" test "$RC" = 20
sh_in "$GEN" 'echo "1 1" > /run/webd.ready'
pexec "$GEN" "$PROBE_T" /usr/bin/readiness-probe run --format table
check hook-stale-flag "a flag naming pid 1 (supervisord) is stale: 20 (got $RC)" eval '[ "$RC" = 20 ] && grep -q stale <<<"$OUT"'
sh_in "$GEN" 'mv -f /run/webd.ready.saved /run/webd.ready'
pexec "$GEN" "$PROBE_T" /usr/bin/readiness-probe run
check hook-flag-back "the real flag back: 0 (got $RC: $LINE)" test "$RC" = 0

# ---------------------------------------------------------------------------------------
section "Kubernetes semantics: timeoutSeconds vs [probe] timeout, output size"
# A hook that hangs: hook_timeout (3 s) kills it, the probe answers 6 before [probe] timeout
# (4 s) and before the kubelet's timeoutSeconds (5 s, the pod.yaml's). The probe's own time is
# its JSON duration_ms: the exec's wall time adds podman's own start-up, seconds under load.
sh_in "$GEN" 'printf "#!/bin/sh\necho slow hook starting\nexec sleep 60\n" > /etc/readiness-probe/hooks.d/60-slow && chmod 755 /etc/readiness-probe/hooks.d/60-slow'
pexec "$GEN" "$PROBE_T" /usr/bin/readiness-probe run --format json
probe_ms="$(python3 -c 'import json, sys; print(int(json.load(sys.stdin)["duration_ms"]))' <<<"$OUT" 2>/dev/null)"
check timeout-below-k8s "a hanging hook: the probe's own code 6 inside timeoutSeconds=5 (got $RC in ${probe_ms:-?} ms; the exec took ${MS} ms)" \
    eval '[ "$RC" = 6 ] && [ -n "$probe_ms" ] && [ "$probe_ms" -lt 5000 ]'
pexec "$GEN" "$PROBE_T" /usr/bin/readiness-probe run --timeout 2s
check deadline-code-9 "--timeout 2s below the hook's 3s: code 9 (got $RC in ${MS}ms)" test "$RC" = 9
# timeoutSeconds=1 below [probe] timeout: the kubelet gives up first (a failure without the
# probe's code) but the probe still kills its hook at its own deadline: nothing is left behind.
pexec "$GEN" 1 /usr/bin/readiness-probe run
check k8s-timeout-first "timeoutSeconds=1 < [probe] timeout: the runtime exec times out (got $RC)" test "$RC" = 124
no_sleepers() { [ -z "$(sh_in "$GEN" 'for p in /proc/[0-9]*; do [ "$(tr "\0" " " < $p/cmdline 2>/dev/null)" = "sleep 60 " ] && echo $p; done')" ]; }
check no-leftover-hook "the abandoned probe's hook (sleep 60) is gone within 20 s" until_true 20 no_sleepers
sh_in "$GEN" 'rm -f /etc/readiness-probe/hooks.d/60-slow'
# A hook that prints 1 MiB: the output the kubelet keeps (10 KiB) holds all of the probe's,
# and the first line is the same run after run (Kubernetes folds repeated events on it).
sh_in "$GEN" 'printf "#!/bin/sh\nhead -c 1048576 /dev/zero | tr \"\\\\0\" x\nexit 17\n" > /etc/readiness-probe/hooks.d/70-noisy && chmod 755 /etc/readiness-probe/hooks.d/70-noisy'
pexec "$GEN" "$PROBE_T" /usr/bin/readiness-probe run
first="$LINE" size=${#OUT}
check noisy-code "a noisy hook's own code 17 (got $RC)" test "$RC" = 17
check output-bounded "output within the kubelet's 10 KiB (got $size bytes)" test "$size" -le 10240
pexec "$GEN" "$PROBE_T" /usr/bin/readiness-probe run
check first-line-stable "the first line is the same in a second run" test "$LINE" = "$first"
sh_in "$GEN" 'rm -f /etc/readiness-probe/hooks.d/70-noisy'
pexec "$GEN" "$PROBE_T" /usr/bin/readiness-probe run
check ready-again "hooks removed: 0 (got $RC)" test "$RC" = 0

# ---------------------------------------------------------------------------------------
section "generic example: restarts with /run kept"
RESTARTED=$(now_us)
pmq restart -t 10 "$GEN"
RESTARTED=$(now_us)
check kept-ledger "the old ledger is there after the restart" sh_in "$GEN" 'test -f /run/readiness-probe/ledger.json'
after_restart clean-restart "$GEN" /usr/bin/readiness-probe run
check clean-restart-agrees "supervisorctl agrees with the first 0" sup_agrees_ready "$GEN" syncd webd

old_flag="$(sh_in "$GEN" 'cat /run/webd.ready')"
t=$(now_us)
pmq kill -s KILL "$GEN"
check crash-exits "supervisord killed: the container exits (status 137) within 30 s" until_true 30 eval 'exited "$GEN" && [ "$(pm inspect --format "{{.State.ExitCode}}" "$GEN")" = 137 ]'
pexec "$GEN" "$PROBE_T" /usr/bin/readiness-probe run
check crash-exec-fails "the runtime cannot exec a probe in the exited container (got $RC)" test "$RC" != 0 -a "$RC" != 124
pmq start "$GEN"
RESTARTED=$(now_us)
# webd writes its new flag READY_DELAY=6 s after it starts: until then only the crashed run's
# flag is there, and the hook must call it stale.
cur_flag="$(sh_in "$GEN" 'cat /run/webd.ready')"
pexec "$GEN" "$PROBE_T" /usr/local/bin/webd-ready
check crash-flag-left "the crashed run's flag is still there (was '$old_flag', now '$cur_flag')" test "$cur_flag" = "$old_flag"
check crash-stale-flag "webd-ready calls the crashed run's flag stale: 20 (got $RC: $LINE)" test "$RC" = 20
after_restart crash-restart "$GEN" /usr/bin/readiness-probe run
check crash-restart-agrees "supervisorctl agrees with the first 0" sup_agrees_ready "$GEN" syncd webd
pexec "$GEN" "$PROBE_T" /usr/local/bin/webd-ready
check crash-new-flag "webd's new flag passes (got $RC: $LINE)" test "$RC" = 0

# ---------------------------------------------------------------------------------------
section "generic example: podman stop"
t=$(now_us)
pmq stop -t 10 "$GEN"
stop_ms=$(( ($(now_us) - t) / 1000 ))
code="$(pm inspect --format '{{.State.ExitCode}}' "$GEN")"
check stop-clean "podman stop -t 10: exit status 0 (got $code)" test "$code" = 0
suplog="$(pm run --rm --network host "${ULIMITS[@]}" -v rp-e2e-gen-run:/run "$GEN_IMG" cat /run/supervisord.log 2>/dev/null | sed -n '/received SIGTERM/,$p')"
# supervisord's own shutdown, from its log: the last SIGTERM it received to the last program it
# saw stop (podman stop's wall time adds the runtime's own work: seconds on a loaded machine).
# A program that ignored TERM would hold it for stopwaitsecs (10 s) and then be killed.
shutdown_ms="$(python3 -c '
import re, sys
from datetime import datetime
t = lambda l: datetime.strptime(l[:23], "%Y-%m-%d %H:%M:%S,%f")
lines = sys.stdin.read().splitlines()
term = [i for i, l in enumerate(lines) if "received SIGTERM" in l][-1]
stops = [l for l in lines[term:] if re.search(r"(stopped|exited): ", l)]
print(int((t(stops[-1]) - t(lines[term])).total_seconds() * 1000))
' <<<"$suplog" 2>/dev/null)"
check stop-fast "supervisord stopped every program ${shutdown_ms:-?} ms after SIGTERM (< 5000: every program acts on TERM at once; podman stop took ${stop_ms} ms)" \
    eval '[ -n "$shutdown_ms" ] && [ "$shutdown_ms" -lt 5000 ]'
stop_no_kill() { ! grep -qE "terminated by|killed by" <<<"$suplog" && grep -q "stopped: webd (exit status 0)" <<<"$suplog"; }
check stop-no-kill "no program killed by a signal in the shutdown (supervisord.log)" stop_no_kill \
    || printf '%s\n' "$suplog" | tail -8 | sed 's/^/    log: /'
pmq rm -f -t 0 "$GEN"

# ---------------------------------------------------------------------------------------
fi

if want sonic; then
section "SONiC-style example: readiness_probe.sh, startsecs=0, critical exits"
check run-sonic "podman run the SONiC-style image" run_son
probe_until "$SON" 0 60 /usr/bin/readiness_probe.sh
check sonic-start-then-ready "readiness_probe.sh: codes 3/2/30 then 0 (seen:$CODES)" codes_within "3 2 30"
check sonic-code-2-seen "code 2 while start.sh runs (seen:$CODES)" has_code 2
check sonic-ready-agrees "supervisorctl agrees" sup_agrees_ready "$SON" orchagent 'syncd:portsyncd' 'syncd:neighsyncd'
check sonic-healthy "podman healthcheck run: healthy" until_true 30 hc_is "$SON" 0

# A critical program with startsecs=0 stopped on purpose: every probe says 4 (not a critical
# exit: the listener does not stop supervisord), and 0 once it is started again.
stop_start_critical() {   # LABEL
    local label="$1" codes="" i
    sh_in "$SON" 'supervisorctl stop orchagent' >/dev/null
    for i in 1 2 3 4 5; do pexec "$SON" "$PROBE_T" /usr/bin/readiness_probe.sh; codes="$codes $RC"; sleep 0.5; done
    check "$label-stopped-4" "orchagent (startsecs=0) STOPPED: 5 probes give 4 (got$codes)" test "$codes" = " 4 4 4 4 4"
    sh_in "$SON" 'supervisorctl start orchagent' >/dev/null
    probe_until "$SON" 0 40 /usr/bin/readiness_probe.sh
    check "$label-started-0" "orchagent started again: 0 (seen:$CODES)" test "$RC" = 0
}
stop_start_critical sonic
pmq restart -t 10 "$SON"
RESTARTED=$(now_us)
after_restart sonic-clean-restart "$SON" /usr/bin/readiness_probe.sh
stop_start_critical sonic-after-restart

# A critical program killed: the listener (on_critical_exit = terminate) stops supervisord and
# the container exits, as SONiC's exit listener makes it. program: form first.
sh_in "$SON" 'supervisorctl signal KILL orchagent' >/dev/null
check sonic-critical-exit "orchagent killed: the container exits within 40 s" until_true 40 exited "$SON"
# The log is in the container's /var/log, gone with a new container: read it from the stopped one.
lst="$(pm cp "$SON:/var/log/supervisor/readiness-listener.log" - 2>/dev/null | tar -xO 2>/dev/null)"
check sonic-critical-logged "the listener logged the critical exit and its SIGTERM" grep -q 'sending SIGTERM to supervisord' <<<"$lst"
pmq start "$SON"
RESTARTED=$(now_us)
after_restart sonic-crash-restart "$SON" /usr/bin/readiness_probe.sh
stop_start_critical sonic-after-crash
# group: form: a member of group syncd killed.
sh_in "$SON" 'supervisorctl signal KILL syncd:portsyncd' >/dev/null
check sonic-group-exit "syncd:portsyncd (group:syncd) killed: the container exits within 40 s" until_true 40 exited "$SON"
pmq rm -f -t 0 "$SON"

fi

if want trust; then
section "trust after restarts: startsecs=0 critical programs and a long-lived old ledger"
# The generic image with startsecs=0 for syncd and webd (SONiC's usual setting): after a
# restart they are RUNNING by the time the new listener seeds its ledger, as they were in
# the old one, whose events had higher serials (the old run lived longer). Any 0 before
# start.sh is done, or while supervisorctl says a critical program is STOPPED, is a lie.
TRUST=rp-e2e-trust TRUST_IMG=localhost/rp-e2e-trust:latest
printf 'FROM %s\nRUN sed -i "s/^startsecs=1$/startsecs=0/" /etc/supervisor/supervisord.conf && grep -c "^startsecs=0" /etc/supervisor/supervisord.conf\n' \
    "$GEN_IMG" > "$CTX/Dockerfile.trust"
check image-trust "the startsecs=0 variant builds" build "$TRUST_IMG" Dockerfile.trust "$WORK/build-trust.log"
run_trust() {
    pmq run -d --name "$TRUST" --network host "${ULIMITS[@]}" -v rp-e2e-trust-run:/run \
        -e START_SECONDS=$START_SECONDS -e READINESS_SERVE_LISTEN=127.0.0.1:0 "$TRUST_IMG"
}
check run-trust "podman run the variant" run_trust
probe_until "$TRUST" 0 60 /usr/bin/readiness-probe run
check trust-ready "ready (seen:$CODES)" test "$RC" = 0
# Many events in the old run: syncd and webd restarted 6 times (serials well above what the
# new run reaches by the time syncd is stopped below).
for i in 1 2 3 4 5 6; do sh_in "$TRUST" 'supervisorctl restart syncd webd' >/dev/null; done
probe_until "$TRUST" 0 40 /usr/bin/readiness-probe run
check trust-ready-again "ready after the restarts (seen:$CODES)" test "$RC" = 0
stop_after_restart() {   # LABEL
    local label="$1" codes="" i st
    probe_until "$TRUST" 0 40 /usr/bin/readiness-probe run
    sh_in "$TRUST" 'supervisorctl stop syncd' >/dev/null
    st="$(sh_in "$TRUST" 'supervisorctl status syncd')"
    for i in 1 2 3 4 5; do pexec "$TRUST" "$PROBE_T" /usr/bin/readiness-probe run; codes="$codes $RC"; sleep 0.5; done
    check "$label-stopped-4" "syncd (startsecs=0) stopped after the restart ($(awk '{print $2}' <<<"$st")): 5 probes give 4 (got$codes)" \
        test "$codes" = " 4 4 4 4 4"
    sh_in "$TRUST" 'supervisorctl start syncd' >/dev/null
    probe_until "$TRUST" 0 40 /usr/bin/readiness-probe run
    check "$label-started-0" "syncd started again: 0 (seen:$CODES)" test "$RC" = 0
}
pmq kill -s KILL "$TRUST"
until_true 10 exited "$TRUST"
pmq start "$TRUST"
RESTARTED=$(now_us)
after_restart trust-crash "$TRUST" /usr/bin/readiness-probe run
check trust-crash-agrees "supervisorctl agrees with the first 0" sup_agrees_ready "$TRUST" syncd webd
stop_after_restart trust-crash
for i in 1 2 3 4 5 6; do sh_in "$TRUST" 'supervisorctl restart syncd webd' >/dev/null; done
pmq restart -t 10 "$TRUST"
RESTARTED=$(now_us)
after_restart trust-clean "$TRUST" /usr/bin/readiness-probe run
check trust-clean-agrees "supervisorctl agrees with the first 0" sup_agrees_ready "$TRUST" syncd webd
stop_after_restart trust-clean
pmq rm -f -t 0 "$TRUST"
pm rmi -f "$TRUST_IMG" >/dev/null 2>&1
fi

# ---------------------------------------------------------------------------------------
if [ "${BENCH:-0}" = 1 ]; then
    section "bench: the node's cost per probe"
    # Fresh /run volumes: the ones above hold ledgers with recorded critical exits.
    GEN_VOL=rp-e2e-bench-gen-run SON_VOL=rp-e2e-bench-son-run
    run_gen && run_son
    probe_until "$GEN" 0 60 /usr/bin/readiness-probe run
    check bench-generic-ready "the generic container ready for the benchmark (seen:$CODES)" test "$RC" = 0
    probe_until "$SON" 0 60 /usr/bin/readiness_probe.sh
    check bench-sonic-ready "the SONiC-style container ready for the benchmark (seen:$CODES)" test "$RC" = 0
    until_true 30 readyz_is 200
    . "$HERE/bench.sh"
fi

section "done"
total=$(( $(date +%s) - T0 ))
echo "e2e: took ${total}s"
[ "$KNOWN" -gt 0 ] && echo "e2e: $KNOWN known failure(s) (Tests/E2E/known-failures.txt), not counted"
[ "$FAILED" -gt 0 ] && echo "e2e: failed: ${FAILURES[*]}"
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
