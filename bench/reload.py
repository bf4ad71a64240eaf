"""Model reload under load: does any request fail, or get an answer mixing two models?

16 connections post to `rnn2` (through /predict, /predict/batch and v2 infer, a third each)
while rnn2's folder is replaced by another model (`ff`, renamed rnn2) and back, and loaded
through POST /v2/repository/models/rnn2/load each time. Every answer must be wholly rnn2's or
wholly ff's. tests/test_lifecycle.py runs it with 4 reloads; this script with more, and writes
bench/reload.{md,json}.

    python -m bench.reload [--reloads 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2 as httpx

from bench.drain import OUT, start_server
from harness import ROOT, free_port, wait_ready

MODELS = ROOT / "models"
TEXTS = [
    "A wonderful film, moving and beautifully acted; I loved every minute of it.",
    "Dull, predictable and far too long. I want my two hours back.",
    "Not bad at all, though the ending felt rushed.",
]
PATHS = ("predict", "batch", "v2")


def copy_models(to: Path, names: tuple[str, ...] = ("ff", "rnn2")) -> Path:
    """The committed models folder, with only `names` in its manifest (a faster start)."""
    shutil.copy(MODELS / "imdb_word_index.json", to)
    manifest = json.loads((MODELS / "manifest.json").read_text(encoding="utf-8"))
    manifest["models"] = [m for m in manifest["models"] if m in names]
    (to / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    for name in names:
        shutil.copytree(MODELS / name, to / name)
    return to


def put_model_as(models: Path, source: str, name: str) -> str:
    """Put model `source` (files and golden set) in folder `name`, under that name; its sha256."""
    for file in ("model.onnx", "golden.json"):
        shutil.copy(MODELS / source / file, models / name / file)
    card = json.loads((MODELS / source / "card.json").read_text(encoding="utf-8"))
    (models / name / "card.json").write_text(json.dumps({**card, "name": name}), encoding="utf-8")
    return str(card["onnx_sha256"])


def scores(http: httpx.Client, path: str, model: str) -> list[float]:
    """TEXTS scored by `model` through /predict (the first text), /predict/batch or v2 infer."""
    if path == "predict":
        response = http.post("/predict", json={"text": TEXTS[0], "model": model})
        response.raise_for_status()
        return [response.json()["score"]]
    if path == "batch":
        response = http.post("/predict/batch", json={"texts": TEXTS, "model": model})
        response.raise_for_status()
        return [p["score"] for p in response.json()["predictions"]]
    tensor = {"name": "text", "shape": [len(TEXTS)], "datatype": "BYTES", "data": TEXTS}
    response = http.post(f"/v2/models/{model}/infer", json={"inputs": [tensor]})
    response.raise_for_status()
    return list(response.json()["outputs"][0]["data"])


def same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True))


def reload_under_load(
    models: Path, reloads: int, connections: int = 16, pause_s: float = 0.5
) -> dict[str, Any]:
    """Serve `models` (a copy: its rnn2 folder is rewritten), load it while loaded; the counts."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "SENTIMENT_MODELS_DIR": str(models),
        "SENTIMENT_DEFAULT_MODEL": "rnn2",
        "SENTIMENT_MODEL_CONTROL": "1",
    }
    server = start_server(port, 1, env)
    stop = threading.Event()
    answers: list[tuple[str, list[float]]] = []
    failures: list[str] = []

    def client(path: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while not stop.is_set():
                try:
                    answers.append((path, scores(http, path, "rnn2")))
                except httpx.HTTPError as e:
                    failures.append(repr(e))

    try:
        wait_ready(f"{url}/health/ready", server)
        with httpx.Client(base_url=url, timeout=60) as control:
            expected = {p: {m: scores(control, p, m) for m in ("rnn2", "ff")} for p in PATHS}
            threads = [
                threading.Thread(target=client, args=(PATHS[i % len(PATHS)],))
                for i in range(connections)
            ]
            for t in threads:
                t.start()
            loads: list[int] = []
            for i in range(reloads):
                time.sleep(pause_s)
                put_model_as(models, "ff" if i % 2 == 0 else "rnn2", "rnn2")
                loads.append(control.post("/v2/repository/models/rnn2/load").status_code)
            time.sleep(pause_s)
            stop.set()
            for t in threads:
                t.join(timeout=60)
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=60)
    origin: Counter[str] = Counter()
    for path, s in answers:
        old, new = same(s, expected[path]["rnn2"]), same(s, expected[path]["ff"])
        origin[f"{path}:{'rnn2' if old else 'ff' if new else 'mixed'}"] += 1
    return {
        "reloads": reloads,
        "load_statuses": dict(Counter(str(s) for s in loads)),
        "answers": len(answers),
        "failed": len(failures),
        "failures": failures[:10],
        "mixed": sum(v for k, v in origin.items() if k.endswith(":mixed")),
        "by_path_and_model": dict(sorted(origin.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reloads", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        result = reload_under_load(copy_models(Path(folder)), args.reloads)
    (OUT / "reload.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Model reload under load (`python -m bench.reload`)",
        "",
        "16 connections on rnn2 (/predict, /predict/batch, v2 infer) while rnn2 is reloaded from "
        "disk, alternately as another model (ff) and as itself; measured while other work ran.",
        "",
        "| reloads | load answers | answers | failed | mixing two models |",
        "| --- | --- | --- | --- | --- |",
        f"| {result['reloads']} | {result['load_statuses']} | {result['answers']} | "
        f"{result['failed']} | {result['mixed']} |",
        "",
        "Answers by path and by the model they came wholly from: "
        + ", ".join(f"{k} {v}" for k, v in result["by_path_and_model"].items()),
    ]
    (OUT / "reload.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    ok = result["failed"] == 0 and result["mixed"] == 0
    return 0 if ok and set(result["load_statuses"]) == {"200"} else 1


if __name__ == "__main__":
    sys.exit(main())
