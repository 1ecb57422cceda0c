# Sourced by e2e.sh (BENCH=1) with $GEN (generic) and $SON (SONiC-style) running and ready:
# the node's cost of one probe. Prints a Markdown table for docs/benchmarks.md.
#
# Wall: median of BENCH_RUNS (default 30) runtime execs, each timed from the host.
# CPU: per exec, from cgroup v1 cpuacct counters, split where it is spent:
#   client  - the podman client (this script's own cgroup; a kubelet talks to a long-running
#             containerd instead, so this part is podman's, not an exec probe's);
#   runtime - conmon and runc (podman's libpod_parent/conmon cgroup);
#   inside  - the exec'd command in the container (the container's cgroup).
# HTTP: one GET of /readyz per request from the host (a new connection each time, as the
# kubelet's httpGet probe), against `readiness-probe serve` in $GEN; CPU of the server
# (container cgroup) and of the client (Python's process time, reported for completeness).
BENCH_RUNS="${BENCH_RUNS:-30}"
CG=/sys/fs/cgroup/cpuacct
ctr_cg() { echo "$CG/libpod_parent/libpod-$(pm inspect --format '{{.Id}}' "$1")"; }
usage() { cat "$1/cpuacct.usage" 2>/dev/null || echo 0; }

bench_exec() {   # LABEL CTR CMD...
    local label="$1" ctr="$2"; shift 2
    local cc; cc="$(ctr_cg "$ctr")"
    if [ ! -r "$cc/cpuacct.usage" ] || [ ! -r "$CG/libpod_parent/conmon/cpuacct.usage" ]; then
        echo "| $label | (no cpuacct cgroups here) | | | | |"; return
    fi
    mkdir -p "$CG/rp-e2e-bench"
    local out
    out="$(
        echo $BASHPID > "$CG/rp-e2e-bench/cgroup.procs"
        b0=$(usage "$CG/rp-e2e-bench") r0=$(usage "$CG/libpod_parent/conmon") i0=$(usage "$cc")
        walls=()
        for _ in $(seq "$BENCH_RUNS"); do
            t0=${EPOCHREALTIME/./}
            timeout 10 "${PM[@]}" exec "$ctr" "$@" >/dev/null 2>&1
            walls+=($(( ${EPOCHREALTIME/./} - t0 )))
        done
        b1=$(usage "$CG/rp-e2e-bench") r1=$(usage "$CG/libpod_parent/conmon") i1=$(usage "$cc")
        med=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
        n=$BENCH_RUNS
        awk -v m="$med" -v b=$((b1-b0)) -v r=$((r1-r0)) -v i=$((i1-i0)) -v n="$n" -v l="$label" 'BEGIN {
            printf "| %s | %.0f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms |\n", l, m/1000, (b+r+i)/n/1e6, b/n/1e6, r/n/1e6, i/n/1e6 }'
    )"
    echo $$ > "$CG/cgroup.procs" 2>/dev/null
    rmdir "$CG/rp-e2e-bench" 2>/dev/null
    echo "$out"
}

bench_http() {
    local cc i0 i1 out
    cc="$(ctr_cg "$GEN")"
    i0=$(usage "$cc")
    out="$(python3 - "$SERVE_PORT" "$BENCH_RUNS" <<'PY'
import http.client, sys, time, statistics
port, n = int(sys.argv[1]), int(sys.argv[2]) * 10
walls = []
cpu0 = time.process_time()
codes = set()
for _ in range(n):
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/readyz")
    r = c.getresponse(); r.read(); c.close()
    walls.append(time.perf_counter() - t0)
    codes.add(r.status)
cpu = (time.process_time() - cpu0) / n
print(n, statistics.median(walls) * 1000, cpu * 1000, ",".join(map(str, sorted(codes))))
PY
)"
    i1=$(usage "$cc")
    set -- $out
    awk -v n="$1" -v m="$2" -v c="$3" -v s=$((i1-i0)) -v codes="$4" 'BEGIN {
        printf "| GET /readyz from the host (serve; HTTP %s; %d requests) | %.2f ms | %.2f ms | client %.2f ms | - | server %.2f ms |\n", codes, n, m, c + s/n/1e6, c, s/n/1e6 }'
}

echo
echo "### The node's cost per probe (make e2e BENCH=1, $(date -u +%Y-%m-%dT%H:%MZ), $BENCH_RUNS runs each)"
echo
echo "| probe | wall (median) | CPU total | podman client | conmon + runc | inside the container |"
echo "|---|---|---|---|---|---|"
bench_exec '`readiness-probe run` (generic: start, 2 programs, 2 hooks)' "$GEN" /usr/bin/readiness-probe run
bench_exec '`readiness-probe run --cached`' "$GEN" /usr/bin/readiness-probe run --cached
bench_exec '`/bin/true`' "$GEN" /bin/true
bench_exec '`/usr/bin/readiness_probe.sh` (SONiC-style image, drop-in)' "$SON" /usr/bin/readiness_probe.sh
pm cp "$ROOT/Tests/Bench/sonic_readiness_probe.sh" "$SON:/usr/local/bin/sonic_readiness_probe.sh" >/dev/null 2>&1
bench_exec 'SONiC'"'"'s script (bash, `supervisorctl status start`, the hook)' "$SON" \
    bash /usr/local/bin/sonic_readiness_probe.sh /etc/supervisor/supervisord.conf /usr/bin/readiness_probe_hook
bench_http
echo
