"""Replay the Dockerfile outside Docker: the image's venv, files, user, environment and command.

No Docker engine runs on these machines, so `make check-deploy` performs the image's steps here,
under a root folder that stands for the image's filesystem:
- container paths named by WORKDIR, COPY and $VIRTUAL_ENV live under the root (/opt/venv becomes
  ROOT/opt/venv); a RUN line must name them through variables, never literally, so that the
  relocation is exact;
- the stages the target copies from are replayed in full: WORKDIR, ENV, COPY (through
  .dockerignore) and RUN (`sh -c`, in the WORKDIR, as Docker does);
- the target stage's ENV, WORKDIR, COPY, USER, HEALTHCHECK and CMD are replayed; its RUN lines may
  only create the user, whose numeric USER id then runs every process (when this runs as root);
- processes get the image's environment only (nothing of this machine's, no PYTHONPATH); RUN
  lines also get this machine's pip and certificate settings, to reach the package index;
- the image's python3 is the one of its python:3.X-slim-bookworm base; here it is Debian
  bookworm's own /usr/bin/python3, checked to be the same 3.X.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dockerfile import (
    DockerfileError,
    Instruction,
    Stage,
    dockerignore,
    env_pairs,
    ignored,
    parse_dockerfile,
)

# The python image's PATH less /usr/local, where the image's python lives and this machine has
# none: python3 is Debian's.
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
PASSED_TO_RUN = re.compile(r"PIP_\w+|\w*CA_BUNDLE|SSL_CERT_\w+|HOME")
USER_CREATION = re.compile(r"groupadd\s.*&&\s*useradd\s")


@dataclass
class Image:
    """One replayed stage: what `docker run` would start, and how."""

    root: Path
    claimed: list[str]
    env: dict[str, str] = field(default_factory=lambda: dict(BASE_ENV))
    workdir: str = "/"
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    user: tuple[int, int] | None = None
    exposed: list[int] = field(default_factory=list)

    @property
    def command(self) -> list[str]:
        return self.entrypoint + self.cmd

    def host(self, value: str) -> str:
        """A container path, or a PATH-like list of them, as seen from this machine."""
        parts = []
        for part in value.split(":"):
            claimed = any(part == c or part.startswith(c + "/") for c in self.claimed)
            parts.append(str(self.root) + part if claimed else part)
        return ":".join(parts)

    def process_env(self, overrides: dict[str, str]) -> dict[str, str]:
        return {k: self.host(v) for k, v in {**self.env, **overrides}.items()}

    def popen(
        self, argv: list[str], overrides: dict[str, str], output: IO[bytes] | int
    ) -> subprocess.Popen[bytes]:
        """Start argv as `docker run` would: the image's user, environment and WORKDIR."""
        user: dict[str, Any] = {}
        if self.user and os.geteuid() == 0:
            user = {"user": self.user[0], "group": self.user[1], "extra_groups": []}
        return subprocess.Popen(
            [self.host(a) for a in argv],
            cwd=self.host(self.workdir),
            env=self.process_env(overrides),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **user,
        )

    def call(
        self, argv: list[str], overrides: dict[str, str], timeout: float = 30
    ) -> tuple[int, str]:
        """Run argv to the end: its exit code and its output."""
        with self.popen(argv, overrides, subprocess.PIPE) as process:
            output, _ = process.communicate(timeout=timeout)
        return process.returncode, output.decode(errors="replace")


class Replay:
    """Replays stages of `context`/Dockerfile under `root`; with execute=False, only checks."""

    def __init__(self, context: Path, root: Path, execute: bool = True) -> None:
        self.context, self.root, self.execute = context, root, execute
        self.global_args, self.stages = parse_dockerfile(context / "Dockerfile")
        self.rules = dockerignore(context / ".dockerignore")
        self.claimed: list[str] = []
        self.replayed: dict[str, Image] = {}

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise DockerfileError(f"no stage {name!r} in the Dockerfile")

    def replay(self, name: str, target: bool = True) -> Image:
        """Replay stage `name` (and the stages it copies from) once."""
        if name not in self.replayed:
            stage, image = self.stage(name), Image(self.root, self.claimed)
            for instruction in stage.instructions:
                handler = getattr(self, f"do_{instruction.keyword.lower()}", None)
                if handler is None:
                    raise DockerfileError(f"line {instruction.line}: cannot replay it")
                handler(image, stage, instruction, target)
            self.replayed[name] = image
        return self.replayed[name]

    def claim(self, image: Image, container_path: str) -> str:
        path = os.path.normpath(os.path.join(image.workdir, container_path))
        if path not in self.claimed and path != "/":
            self.claimed.append(path)
        return path

    def do_env(self, image: Image, stage: Stage, instruction: Instruction, target: bool) -> None:
        pairs = env_pairs(instruction, image.env)
        if "VIRTUAL_ENV" in pairs:
            self.claim(image, pairs["VIRTUAL_ENV"])
        image.env.update(pairs)

    def do_workdir(
        self, image: Image, stage: Stage, instruction: Instruction, target: bool
    ) -> None:
        image.workdir = self.claim(image, instruction.args)
        if self.execute:
            Path(image.host(image.workdir)).mkdir(parents=True, exist_ok=True)

    def do_copy(self, image: Image, stage: Stage, instruction: Instruction, target: bool) -> None:
        *sources, destination = shlex.split(instruction.args)
        if "from" in instruction.flags:
            # One root for every stage: a copy to the same path is already in place.
            self.replay(instruction.flags["from"], target=False)
            if [self.claim(image, s) for s in sources] != [self.claim(image, destination)]:
                raise DockerfileError(f"line {instruction.line}: copy between stages, same path")
            return
        into = Path(image.host(self.claim(image, destination)))
        for source in sources:
            self.copy_from_context(instruction.line, source, into)

    def copy_from_context(self, line: int, source: str, into: Path) -> None:
        """Copy a context file or folder, less what .dockerignore leaves out of the context."""
        path = self.context / source
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files = [
            f
            for f in candidates
            if f.is_file() and not ignored(f.relative_to(self.context).as_posix(), self.rules)
        ]
        if not files:
            raise DockerfileError(f"line {line}: {source} is not in the build context")
        base = path.parent if path.is_file() else path
        for file in files if self.execute else []:
            (into / file.relative_to(base)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, into / file.relative_to(base))

    def do_run(self, image: Image, stage: Stage, instruction: Instruction, target: bool) -> None:
        literal = [c for c in self.claimed if c in instruction.args]
        if literal:
            raise DockerfileError(f"line {instruction.line}: name {literal} through a variable")
        if target and not USER_CREATION.match(instruction.args):
            raise DockerfileError(f"line {instruction.line}: the target may only create its user")
        if target or not self.execute:
            return
        check_python(image.env["PATH"], stage.base)
        passed = {k: v for k, v in os.environ.items() if PASSED_TO_RUN.fullmatch(k)}
        env = {**passed, **image.process_env({})}
        cwd = image.host(image.workdir)
        subprocess.run(["sh", "-c", instruction.args], cwd=cwd, env=env, check=True)

    def do_user(self, image: Image, stage: Stage, instruction: Instruction, target: bool) -> None:
        uid, _, gid = instruction.args.partition(":")
        if not (uid.isdigit() and gid.isdigit()):
            raise DockerfileError(f"line {instruction.line}: USER must be a numeric uid:gid")
        image.user = (int(uid), int(gid))

    def do_expose(self, image: Image, stage: Stage, instruction: Instruction, target: bool) -> None:
        image.exposed = [int(port) for port in instruction.args.split()]

    def do_stopsignal(self, image: Image, stage: Stage, instruction: Instruction, _: bool) -> None:
        if instruction.args != "SIGTERM":
            raise DockerfileError(f"line {instruction.line}: the checks send SIGTERM")

    def do_healthcheck(self, image: Image, stage: Stage, instruction: Instruction, _: bool) -> None:
        image.healthcheck = instruction.exec_form()

    def do_entrypoint(self, image: Image, stage: Stage, instruction: Instruction, _: bool) -> None:
        image.entrypoint = instruction.exec_form()

    def do_cmd(self, image: Image, stage: Stage, instruction: Instruction, target: bool) -> None:
        image.cmd = instruction.exec_form()


def check_python(path: str, base: str) -> None:
    """python3 on the image's PATH must be the base image's Python version."""
    match = re.match(r"python:(\d+\.\d+)", base)
    python = shutil.which("python3", path=path)
    if not (match and python):
        raise DockerfileError(f"cannot stand in for the python3 of {base!r} here")
    found = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if found != match.group(1):
        raise DockerfileError(f"{python} is Python {found}; the image has {match.group(1)}")
