#!/bin/sh
# health.sh: a drop-in replacement for the liveness module's shell health script.
#
# Healthy (exit 0) when <CIC_RUNDIR>/<CIC_UNIT>/pid names a live process and <CIC_RUNDIR>/<CIC_UNIT>/error
# holds exactly 0; otherwise exit 1. One line on stderr says why. The rule itself lives in
# `readiness-probe state show` (docs/state.md); unlike the old script, an error of -1 or abc is unhealthy.
#
#   CIC_RUNDIR      run folder (default /run)
#   CIC_UNIT        unit name (default $LIVENESS_UNIT_NAME, else the host name)
#   READINESS_PROBE the readiness-probe binary (default: readiness-probe on PATH)

rundir=${CIC_RUNDIR:-/run}
unit=${CIC_UNIT:-${LIVENESS_UNIT_NAME:-}}
if [ -z "$unit" ]; then
    unit=$(hostname 2>/dev/null || uname -n)
fi
probe=${READINESS_PROBE:-readiness-probe}

out=$("$probe" state show --unit "$unit" --rundir "$rundir" 2>&1)
rc=$?

# The first non-empty line of what the probe printed is the reason.
line=$(printf '%s\n' "$out" | sed -n '/[^[:space:]]/{p;q;}')
if [ -z "$line" ]; then
    case $rc in
        0) line="healthy" ;;
        126|127) line="cannot run $probe (exit $rc)" ;;
        *) line="state show exited $rc" ;;
    esac
fi

if [ "$rc" -eq 0 ]; then
    printf 'health %s: %s\n' "$unit" "$line" >&2
    exit 0
fi
printf 'health %s: unhealthy: %s\n' "$unit" "$line" >&2
exit 1
