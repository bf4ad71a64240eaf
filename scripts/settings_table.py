"""`python scripts/settings_table.py [--check]`: the settings table of docs/operations.md, written
from service/settings.py (each field's docstring is its meaning), so it cannot fall behind.

--check: exit 1 if the table in the file differs from the settings (tests/test_readme.py runs it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from service.settings import REPO_MODELS, Settings, env_names  # noqa: E402

DOC = ROOT / "docs" / "operations.md"
BEGIN = "<!-- settings table: written by scripts/settings_table.py, do not edit by hand -->"
END = "<!-- end of settings table -->"


def shown(value: object) -> str:
    if value is None:
        return "unset"
    if value == REPO_MODELS:
        return "`models/` of the repo"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, list):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def table() -> str:
    rows = [
        "| variable | flag of `python -m service` | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        variables = " or ".join(f"`{n}`" for n in env_names(name))
        meaning = " ".join(str(field.description).split()).replace("|", "\\|")
        flag = f"`--{name.replace('_', '-')}`"
        rows.append(f"| {variables} | {flag} | {shown(field.default)} | {meaning} |")
    return "\n".join(rows)


def rendered(text: str) -> str:
    """`text` with the table between its markers replaced by the current one."""
    head, found, rest = text.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise SystemExit(f"{DOC}: the markers {BEGIN!r} and {END!r} are missing")
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    current = rendered(text)
    if "--check" in argv:
        if current != text:
            print(f"{DOC} is stale: run `python scripts/settings_table.py`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(current, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
