#!/usr/bin/env python3
"""Parses a /metrics exposition with prometheus_client's own parsers (pinned in the Makefile's venv)
and prints what it found as JSON: {"families": [{"name", "type", "samples": [{"name", "labels",
"value"}]}]}. Exit 1 with the parser's message on stderr when the exposition does not parse.

Usage: parse_metrics.py text|openmetrics < exposition
"""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("text", "openmetrics"):
        sys.exit("usage: parse_metrics.py text|openmetrics < exposition")
    data = sys.stdin.read()
    parse = parse_openmetrics if sys.argv[1] == "openmetrics" else parse_text
    try:
        families = []
        for f in parse(data):
            families.append({
                "name": f.name,
                "type": f.type,
                "samples": [{"name": s.name, "labels": dict(s.labels), "value": s.value} for s in f.samples],
            })
    except Exception as e:  # the parsers raise ValueError (and others) on bad input
        print(f"parse_metrics.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    json.dump({"families": families}, sys.stdout)


if __name__ == "__main__":
    main()
