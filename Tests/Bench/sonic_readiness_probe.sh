#!/bin/bash
# SONiC's readiness probe, for comparison only: the logic of sonic-net/sonic-buildimage
# src/sonic-ctrmgrd/ctrmgr/readiness_probe.sh (added in #15223, c470b7dfd1; unchanged at 086b03bd,
# 2026-08) statement for statement, with the same commands, substitutions and pipelines, so
# that it costs what SONiC's costs: one `supervisorctl status start` (a Python start-up and a
# getAllProcessInfo), `echo | awk` in a command substitution, then the hook if executable.
# Two differences, both parameters: supervisorctl gets `-c SUPERVISORD_CONF` (SONiC's finds
# /etc/supervisor/supervisord.conf by its search path), and the hook path is HOOK instead of
# /usr/bin/readiness_probe_hook.
# Usage: sonic_readiness_probe.sh SUPERVISORD_CONF HOOK
conf="$1"
pre_check_service_name="start"
no_process_string="ERROR (no such process)"
service_status=$(supervisorctl -c "$conf" status $pre_check_service_name)
if [[ $service_status != *"$no_process_string"* ]] && [[ $(echo $service_status |awk '{print $2}') != 'EXITED' ]]; then
    exit 2
fi

post_check_script="$2"
if [ -x $post_check_script ]; then
    $post_check_script
    post_check_result=$?
    if [ $post_check_result != 0 ]; then
        exit $post_check_result
    fi
fi

exit 0
