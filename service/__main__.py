"""`python -m service [--port 9000 ...]`: check the models folder, then serve it with uvicorn.

Every flag is a setting of service/settings.py and wins over its environment variable
(`--port 9000` is `SENTIMENT_PORT=9000`); `--help` lists them all with their defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import textwrap
from typing import Any, get_args, get_origin

from pydantic import ValidationError

from service.settings import KEEP_ALIVE_SECONDS, Settings, env_names, get_settings

# uvicorn and onnxruntime take seconds to import: they wait until the arguments are known good,
# so that `--help` and a mistyped flag answer at once.


def _flag(loc: object) -> str:
    """The flag and variable a validation error is about."""
    for name in Settings.model_fields:
        names = env_names(name)
        if str(loc).upper() in names or loc == name:
            return f"--{name.replace('_', '-')} ({names[0]})"
    return str(loc)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help lines wrapped at spaces only: a name such as Retry-After stays whole."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def parser() -> argparse.ArgumentParser:
    """One flag per setting, its help the setting's docstring."""
    p = argparse.ArgumentParser(
        prog="python -m service",
        usage="%(prog)s [-h] [--host HOST] [--port PORT] [--workers WORKERS] [--SETTING VALUE ...]",
        description=__doc__,
        formatter_class=_HelpFormatter,
    )
    for name, field in Settings.model_fields.items():
        default = "unset" if field.default is None else field.default
        if isinstance(default, list):
            default = json.dumps(default)
        env = " or ".join(env_names(name))
        options: dict[str, Any] = {
            "dest": name,
            "default": argparse.SUPPRESS,
            "help": f"{field.description} [{env}; default: {default}]".replace("%", "%%"),
        }
        if field.annotation is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif get_origin(field.annotation) is list:
            options["metavar"] = "JSON"
        elif get_args(field.annotation) and all(
            isinstance(a, str) for a in get_args(field.annotation)
        ):
            options["choices"] = get_args(field.annotation)
        p.add_argument(f"--{name.replace('_', '-')}", **options)
    return p


def environment(argv: list[str] | None) -> dict[str, str]:
    """The environment variables that the flags given stand for."""
    flags = vars(parser().parse_args(argv))
    env = {}
    for name, value in flags.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        env[env_names(name)[0]] = text
    return env


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn runs the app; the benchmark's baselines run under exactly these options."""
    from service.logs import logging_config
    from service.protocol import CoalescingHttpToolsProtocol

    return {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "log_level": settings.log_level,
        "log_config": logging_config(settings),
        "access_log": False,  # middleware/observability.py writes one line per request, with its id
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,  # shorter than the drain: see settings.py
        "timeout_graceful_shutdown": 30,
        "http": CoalescingHttpToolsProtocol,  # a response leaves in one write: see its module
    }


def main(argv: list[str] | None = None) -> int:
    # Through the environment, so that every uvicorn worker process reads the same settings.
    os.environ.update(environment(argv))
    try:
        settings = get_settings()
    except ValidationError as e:
        parser().error("; ".join(f"{_flag(err['loc'][0])}: {err['msg']}" for err in e.errors()))
    from service.logs import configure_logging
    from service.registry import ModelLoadError, load_registry
    from service.supervisor import serve

    configure_logging(settings)
    metrics_dir = None
    if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Each worker writes its metrics here; /metrics sums them (prometheus-client's own way).
        metrics_dir = tempfile.mkdtemp(prefix="sentiment-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        # Fail in one clear line naming the file, before any worker starts.
        load_registry(settings.models_dir, settings.default_model)
    except ModelLoadError as e:
        print(f"error: cannot start: {e}", file=sys.stderr)
        return 2
    try:
        serve(uvicorn_options(settings))
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
