"""verify_tap: what `effnet-edge verify --tap` said, in the fields deploy writes to releases.log.

The role cannot read TAP's YAML diagnostics in Jinja without becoming unreadable; this filter does it once, with
the same rules as toolkit/deploy/deploy.ts (passedVerify): a release passes only when verify exited 0 and reported
at least one test point, and the reason for a failure names each failing point's measured and allowed values.
"""

import json
import re

import yaml

DOCUMENTATION = """
name: verify_tap
short_description: parse effnet-edge verify --tap output
description: Returns ok, runtime, passed, failed, measured (per test point) and reason (when not ok).
options:
  _input: {description: the TAP text, type: str, required: true}
  rc: {description: verify's exit status, type: int, required: true}
  stderr: {description: verify's stderr, type: str, default: ''}
"""

RUNTIME = re.compile(r"^# effnet-edge verify \S+ \(([\w-]+)\)$", re.M)
POINT = re.compile(r"^(ok|not ok) \d+ - (.*?)(?: # SKIP .*)?$")


def _points(tap):
    """(ok, name, diagnostics) per test point; the diagnostics are the YAML block indented under it."""
    points = []
    lines = tap.split("\n")
    for i, line in enumerate(lines):
        match = POINT.match(line)
        if not match:
            continue
        diag = {}
        if i + 1 < len(lines) and lines[i + 1] == "  ---":
            end = lines.index("  ...", i + 1)
            diag = yaml.safe_load("\n".join(l[2:] for l in lines[i + 2 : end])) or {}
        points.append((match.group(1) == "ok", match.group(2), diag))
    return points


def _reason(points, rc, stderr):
    failing = [
        "%s: measured %s, allowed %s" % (name, json.dumps(diag.get("measured")), diag.get("allowed", "?"))
        for ok, name, diag in points
        if not ok
    ]
    if failing:
        return "; ".join(failing)
    tail = " | ".join(stderr.strip().split("\n")[-2:]) if stderr.strip() else ""
    return tail or "exit %d" % rc


def verify_tap(tap, rc, stderr=""):
    points = _points(tap)
    runtime = RUNTIME.search(tap)
    ok = rc == 0 and len(points) > 0
    return {
        "ok": ok,
        "runtime": runtime.group(1) if runtime else None,
        "passed": sum(1 for p in points if p[0]),
        "failed": sum(1 for p in points if not p[0]),
        "measured": {name: diag.get("measured") for _, name, diag in points},
        "reason": None if ok else "on-device verify failed: " + _reason(points, rc, stderr),
    }


class FilterModule(object):
    def filters(self):
        return {"verify_tap": verify_tap}
