"""`make audit`: pip-audit on the locked dependencies, honest about what it could not check.

pip-audit exits 0 when it cannot reach its vulnerability database (PyPI's JSON API or OSV) and
only says, per package, that it was "not found". This wrapper fails on any known vulnerability,
and says plainly how many packages went unaudited instead of reporting a clean pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    locks = argv or ["requirements/serve.lock"]
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--no-deps",
        "--progress-spinner",
        "off",
        "--format",
        "json",
        *(a for lock in locks for a in ("-r", lock)),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(run.stderr, file=sys.stderr)
        return 2
    dependencies = report["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    for d in vulnerable:
        ids = ", ".join(v["id"] for v in d["vulns"])
        print(f"VULNERABLE {d['name']} {d['version']}: {ids}")
    print(
        f"pip-audit ({', '.join(locks)}): {audited} of {len(dependencies)} packages audited, "
        f"{len(vulnerable)} with known vulnerabilities"
    )
    if skipped:
        reason = skipped[0]["skip_reason"]
        print(
            f"NOT AUDITED: {len(skipped)} packages; pip-audit could not reach its vulnerability "
            f"database from this machine (first reason: {reason})"
        )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
