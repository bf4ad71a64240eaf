"""The two command lines: `--help` answers at once and tells the truth, every flag works, and a bare
`python -m training` leaves the committed models alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.__main__ import environment, parser
from service.settings import Settings
from tests.conftest import ROOT
from training.cli import parse_args
from training.config import SCRATCH_OUT

HEAVY = ("tensorflow", "keras", "tf2onnx", "onnxruntime", "uvicorn")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def heavy_imports_of_help(module: str) -> str:
    """The heavy modules imported by `module.main(["--help"])`, in a fresh interpreter."""
    code = (
        "import sys\n"
        f"from {module} import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    return run("-c", code).stdout.splitlines()[-1]


@pytest.mark.parametrize("module", ["training.cli", "service.__main__"])
def test_help_imports_no_framework(module: str) -> None:
    assert heavy_imports_of_help(module) == "[]"


def test_training_help_documents_every_flag() -> None:
    result = run("-m", "training", "--help")
    assert result.returncode == 0
    for flag in ("--models", "--data", "--word-index", "--out", "--epochs", "--limit", "--seed"):
        assert flag in result.stdout
    assert f"(default: {SCRATCH_OUT})" in " ".join(result.stdout.split())


def test_bare_training_run_publishes_to_a_scratch_folder_not_the_committed_models() -> None:
    config = parse_args([])
    assert config.out == SCRATCH_OUT
    assert config.out.resolve() != (ROOT / "models").resolve()
    assert parse_args(["--out", "models"]).out == Path("models")


def test_training_refuses_an_unknown_model() -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--models", "ff,gpt"])
    assert exit_info.value.code == 2


def test_service_help_lists_a_flag_per_setting_with_its_docstring() -> None:
    result = run("-m", "service", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for name, field in Settings.model_fields.items():
        assert f"--{name.replace('_', '-')}" in text
        assert field.description is not None
        assert " ".join(field.description.split()) in text


def test_service_flags_become_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--port", "9000", "--workers", "2", "--no-fast-path", "--cors-origins", '["http://a"]']
    env = environment(argv)
    assert env == {
        "SENTIMENT_PORT": "9000",
        "SENTIMENT_WORKERS": "2",
        "SENTIMENT_FAST_PATH": "false",
        "SENTIMENT_CORS_ORIGINS": '["http://a"]',
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PORT", "8123")  # a flag wins over the plain variable
    settings = Settings()
    assert (settings.port, settings.workers, settings.fast_path) == (9000, 2, False)
    assert settings.cors_origins == ["http://a"]


def test_service_names_the_flag_of_a_bad_value_and_exits_2() -> None:
    result = run("-m", "service", "--port", "http", "--models-dir", "/nonexistent")
    assert result.returncode == 2
    assert "--port (SENTIMENT_PORT): Input should be a valid integer" in result.stderr


def test_service_refuses_an_unknown_flag() -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(["--prot", "9000"])
    assert exit_info.value.code == 2
