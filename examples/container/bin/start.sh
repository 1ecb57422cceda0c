#!/bin/sh
# The container's one-shot initialiser: takes a few seconds, then exits 0.
# START_SECONDS and START_EXIT let the demo and tests change its behaviour.
echo "start.sh: initialising"
sleep "${START_SECONDS:-3}"
echo "start.sh: done"
exit "${START_EXIT:-0}"
