"""Read a Dockerfile and a .dockerignore the way Docker does, as far as this repo's files need.

Only what the replay (image.py) uses: stages, instructions with their flags, ENV and ARG with
`$VAR` / `${VAR}` expansion, exec-form JSON, and .dockerignore's matching (each path and its
parents against every pattern in order, the last match winning). Anything else is an error, never
silently ignored.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


class DockerfileError(Exception):
    """The Dockerfile uses something this reader or the replay does not handle."""


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    flags: dict[str, str]
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD, ENTRYPOINT or HEALTHCHECK CMD."""
        text = (
            self.args.removeprefix("CMD ").strip() if self.keyword == "HEALTHCHECK" else self.args
        )
        argv = json.loads(text) if text.startswith("[") else None
        if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
            raise DockerfileError(f"line {self.line}: {self.keyword} is not in exec form")
        return argv


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def only(self, keyword: str) -> Instruction:
        found = [i for i in self.instructions if i.keyword == keyword]
        if len(found) != 1:
            raise DockerfileError(f"stage {self.name}: {len(found)} {keyword} instructions, not 1")
        return found[0]


def expand(text: str, env: dict[str, str]) -> str:
    return VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continued lines and drop comments, as Docker does (also inside a continuation)."""
    lines: list[tuple[int, str]] = []
    start = 0
    parts: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not parts:
            start = number
        parts.append(stripped.removesuffix("\\").strip())
        if not stripped.endswith("\\"):
            lines.append((start, " ".join(parts)))
            parts = []
    if parts:
        raise DockerfileError(f"line {start}: continuation at the end of the file")
    return lines


def parse_instruction(line: int, text: str) -> Instruction:
    keyword, _, rest = text.partition(" ")
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        name, _, value = flag[2:].partition("=")
        flags[name] = value
        rest = rest.lstrip()
    return Instruction(line, keyword.upper(), flags, rest.strip())


def parse_dockerfile(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """The global ARG defaults and the stages, in order."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line, text in logical_lines(path.read_text()):
        instruction = parse_instruction(line, text)
        if instruction.keyword == "FROM":
            base, *name = re.split(r"\s+as\s+", instruction.args, flags=re.IGNORECASE)
            stages.append(Stage(name[0] if name else str(len(stages)), expand(base, global_args)))
        elif not stages and instruction.keyword == "ARG":
            key, _, default = instruction.args.partition("=")
            global_args[key] = default
        elif not stages:
            raise DockerfileError(f"line {line}: {instruction.keyword} before the first FROM")
        else:
            stages[-1].instructions.append(instruction)
    return global_args, stages


def env_pairs(instruction: Instruction, env: dict[str, str]) -> dict[str, str]:
    """An ENV's key=value pairs, each value expanded with the environment before the ENV."""
    pairs = {}
    for word in shlex.split(instruction.args):
        key, sep, value = word.partition("=")
        if not sep:
            raise DockerfileError(f"line {instruction.line}: use ENV KEY=value")
        pairs[key] = expand(value, env)
    return pairs


def _pattern(pattern: str) -> re.Pattern[str]:
    regex = ""
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/")):
        regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
            token, re.escape(token)
        )
    return re.compile(regex + r"\Z")


def dockerignore(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """The patterns of a .dockerignore, each with True for an exception (`!pattern`)."""
    rules = []
    for raw in path.read_text().splitlines() if path.exists() else []:
        line = raw.strip()
        if line and not line.startswith("#"):
            exception = line.startswith("!")
            rules.append((exception, _pattern(line.removeprefix("!"))))
    return rules


def ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether Docker leaves this context path out of the build context."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for exception, pattern in rules:
        if any(pattern.match(c) for c in candidates):
            result = not exception
    return result
