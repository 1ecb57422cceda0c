#!/bin/bash
# A SONiC-style readiness probe, for comparison only: written from the behaviour described
# in shared/reference/supervisor.md (ask `supervisorctl status start`, fail with 2 unless it
# is EXITED or unknown, then run the hook and pass its non-zero code through).
# Usage: sonic_readiness_probe.sh SUPERVISORD_CONF HOOK
conf="$1"
hook="$2"
out=$(supervisorctl -c "$conf" status start 2>&1)
case "$out" in
    *"no such process"*) ;;
    *)
        state=$(echo "$out" | awk '{print $2}')
        [ "$state" = "EXITED" ] || exit 2
        ;;
esac
if [ -x "$hook" ]; then
    "$hook"
    rc=$?
    [ $rc -ne 0 ] && exit $rc
fi
exit 0
