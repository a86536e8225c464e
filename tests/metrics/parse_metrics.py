"""Parses a metrics exposition with the Prometheus client library.

Usage: parse_metrics.py prometheus|openmetrics < exposition

`prometheus` reads the Prometheus text format (0.0.4) with
prometheus_client.parser; `openmetrics` reads OpenMetrics with
prometheus_client.openmetrics.parser, which also checks what the format
requires (`# EOF`, units in names, histogram buckets). Prints every family as
JSON: name, type, unit, and its samples (name, labels, value). A text the
parser refuses fails the script.
"""

import json
import math
import sys

FORMAT = sys.argv[1]
if FORMAT == "openmetrics":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
elif FORMAT == "prometheus":
    from prometheus_client.parser import text_string_to_metric_families
else:
    sys.exit(f"unknown format {FORMAT!r}")


def number(value):
    # JSON has no infinity; no count or gauge here should be one.
    return value if math.isfinite(value) else str(value)


families = [
    {
        "name": family.name,
        "type": family.type,
        "unit": family.unit,
        "samples": [
            {"name": s.name, "labels": s.labels, "value": number(s.value)}
            for s in family.samples
        ],
    }
    for family in text_string_to_metric_families(sys.stdin.read())
]
print(json.dumps(families))
