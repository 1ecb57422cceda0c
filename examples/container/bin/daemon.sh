#!/bin/sh
# A stand-in for a long-running daemon: writes its ready file after a second, then runs.
# Usage: daemon.sh NAME READY_FILE
name="$1"
ready="$2"
trap 'rm -f "$ready"; exit 0' TERM INT
sleep 1
: > "$ready"
echo "$name: ready"
while :; do sleep 1; done
