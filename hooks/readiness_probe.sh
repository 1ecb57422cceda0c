#!/bin/sh
# Drop-in for SONiC's /usr/bin/readiness_probe.sh.
#
# The old script asked `supervisorctl status start`, then ran /usr/bin/readiness_probe_hook.
# readiness-probe with no config file does the same, done right:
#   - the start program must have EXITED with status 0 (the old script passed exit 1);
#   - supervisord failures get their own code, 3 (the old script said 2 for all of them);
#   - the hook runs under a timeout (3s by default), in its own process group.
# Codes: 0 ready, 2 start not done, 3 supervisord unreachable, the hook's own 16-254,
# 1 for hook exits 1-15 and 255. `readiness-probe codes` lists them all.
exec "${READINESS_PROBE:-/usr/bin/readiness-probe}" run "$@"
