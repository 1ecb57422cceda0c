#!/usr/bin/env bash
# libFuzzer over every hand-written parser (a dev-only harness; see docs/reliability.md).
#
#   Tests/Fuzz/fuzz.sh [SECONDS] [TARGET...]     fuzz each target for SECONDS (default 10), one after another
#   Tests/Fuzz/fuzz.sh replay [TARGET...]        run every seed once, without fuzzing (a regression check)
#
# Targets: every name in FuzzTargets.all (Sources/FuzzTargets/FuzzTargets.swift), the one list; `fuzz --list`
# prints it, and each has its seeds in corpus/<target>/ (CorpusSmokeTests checks both ways).
# Work files go to <root>/fuzz-out/ (gitignored): <target>/corpus (seeds plus what libFuzzer found),
# <target>/crash-* (inputs that crashed), <target>.log. Exit status 1 if any target crashed.
# Environment: FUZZ_MAX_LEN (65536),
# FUZZ_OUT (fuzz-out), FUZZ_FLAGS (extra libFuzzer flags), FUZZ_CONFIG (release; or debug).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

mode=fuzz
seconds=10
if [[ $# -gt 0 ]]; then
    if [[ $1 == replay ]]; then mode=replay; shift
    elif [[ $1 =~ ^[0-9]+$ ]]; then seconds=$1; shift
    fi
fi
targets=("$@")

out="${FUZZ_OUT:-$root/fuzz-out}"
max_len="${FUZZ_MAX_LEN:-65536}"
mkdir -p "$out"

# Release (-O) runs about ten times as many inputs per second as debug; Swift's bounds and overflow checks
# stay on (only -Ounchecked drops them), and ASan watches the C shim and the runtime.
# -parse-as-library: the entry file defines the `fuzz_main` SwiftPM aliases `main` to (see Entry/Entry.swift).
build=(swift build -c "${FUZZ_CONFIG:-release}" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing)
echo "== building the fuzz targets (${build[*]})"
if ! (cd "$here" && "${build[@]}") >"$out/build.log" 2>&1; then
    grep -v 'ld.gold: warning: Cannot export local symbol' "$out/build.log" | tail -40 >&2
    echo "fuzz.sh: the build failed (full log: $out/build.log)" >&2
    exit 2
fi
bin="$(cd "$here" && "${build[@]}" --show-bin-path)"

# The targets: FuzzTargets.all, as the binary lists it.
mapfile -t all < <("$bin/fuzz" --list)
[[ ${#all[@]} -gt 0 ]] || { echo "fuzz.sh: $bin/fuzz --list printed no targets" >&2; exit 2; }
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target \"$t\" (targets: ${all[*]})" >&2; exit 2; }
done

# Swift's crash reporter would hold the pipe open for seconds on each crash; libFuzzer reports instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1}"

dict_for() {
    case $1 in
        http-*) echo "$here/dict/http.dict" ;;
        *) [[ -f "$here/dict/$1.dict" ]] && echo "$here/dict/$1.dict" || true ;;
    esac
}

failed=0
summary=()
for t in "${targets[@]}"; do
    work="$out/$t"
    mkdir -p "$work/corpus"
    log="$out/$t.log"
    dict="$(dict_for "$t")"
    flags=(-rss_limit_mb=2048 -max_len="$max_len" -timeout=10 -print_final_stats=1 -artifact_prefix="$work/")
    [[ -n $dict ]] && flags+=(-dict="$dict")
    # shellcheck disable=SC2206
    flags+=(${FUZZ_FLAGS:-})
    before=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
    if [[ $mode == replay ]]; then
        echo "== $t: replaying the seeds"
        inputs=("$here/corpus/$t"/*)
        status=0
        FUZZ_TARGET=$t "$bin/fuzz" "${flags[@]}" -runs=1 "${inputs[@]}" >"$log" 2>&1 || status=$?
        if [[ $status -ne 0 ]]; then failed=1; summary+=("$(printf '%-14s FAILED (see %s)' "$t" "$log")")
        else summary+=("$(printf '%-14s %d inputs ok' "$t" "${#inputs[@]}")"); fi
        continue
    fi
    echo "== $t: fuzzing for ${seconds}s"
    status=0
    FUZZ_TARGET=$t "$bin/fuzz" "${flags[@]}" -max_total_time="$seconds" "$work/corpus" "$here/corpus/$t" >"$log" 2>&1 || status=$?
    after=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    crashes=$((after - before))
    line=$(printf '%-14s runs %-9s cov %-6s ft %-6s corpus %-12s crashes %d' "$t" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes")
    if [[ $status -ne 0 || $crashes -gt 0 ]]; then
        failed=1
        line+="  FAILED (exit $status; see $log and $work/)"
        grep -m3 -E 'fuzz property violated|Fatal error|ERROR: AddressSanitizer|ERROR: libFuzzer' "$log" | sed 's/^/    /' || true
    fi
    echo "$line"
    summary+=("$line")
done

echo
if [[ $mode == fuzz ]]; then echo "== summary (${seconds}s per target)"; else echo "== summary (replay)"; fi
printf '%s\n' "${summary[@]}"
exit $failed
