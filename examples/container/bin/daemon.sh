#!/bin/sh
# A stand-in for a long-running daemon: becomes ready after READY_DELAY seconds (default 1)
# and then writes its ready flag, then runs until SIGTERM/SIGINT.
# Usage: daemon.sh NAME READY_FILE
#
# Two things a real daemon should copy:
# - The flag is crash-proof: it holds "PID STARTTIME" (the process's start time from
#   /proc/PID/stat), written atomically. A flag left behind by a crash, or by a kill -9,
#   names a process that no longer exists, or a reused pid with another start time, so a
#   hook that checks it (webd-ready) does not pass on a stale file.
# - TERM is acted on at once: the shell waits on a background sleep with `wait`, which a
#   trapped signal interrupts (a foreground `sleep` would delay the trap until it ends),
#   so `supervisorctl stop` and `podman stop` take milliseconds, not seconds.
#   The trap stops that sleep with SIGKILL, not TERM: a TERM that reaches it between fork and
#   exec is caught by the trap it inherited from this shell and lost, and the trap's `wait`
#   would then wait out the whole sleep. It names the sleep by `$!`, set as soon as `&` forks
#   (a `child=$!` after it leaves a moment where the trap runs without knowing the sleep).
name="$1"
ready="$2"
stop() {
    rm -f "$ready" "$ready.tmp"
    # The sleep is ours to stop and reap (left to supervisord, it is an "unknown pid").
    if [ -n "$!" ]; then
        kill -KILL "$!" 2>/dev/null
        wait "$!" 2>/dev/null
    fi
    echo "$name: stopped"
    exit 0
}
trap stop TERM INT
pause() {   # sleep $1 seconds, interruptibly
    sleep "$1" &
    wait "$!"
}

# Field 22 of /proc/PID/stat, after the command name (which may hold spaces and parentheses).
starttime() {
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    shift 19
    echo "$1"
}

pause "${READY_DELAY:-1}"
me=$$
printf '%s %s\n' "$me" "$(starttime "$me")" > "$ready.tmp" && mv -f "$ready.tmp" "$ready"
echo "$name: ready (pid $me)"
while :; do pause 3600; done
