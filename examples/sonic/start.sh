#!/bin/bash
# SONiC-style start.sh: initialise (START_SECONDS, default 3), then start the daemons, which
# have autostart=false. The readiness probe answers 2 until this script has EXITED 0.
echo "start.sh: initialising"
sleep "${START_SECONDS:-3}"
supervisorctl start orchagent
supervisorctl start syncd:*
echo "start.sh: done"
exit "${START_EXIT:-0}"
