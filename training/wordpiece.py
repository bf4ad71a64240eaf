"""The WordPiece tokenizer of all-MiniLM-L6-v2, for the MiniLM experiments (training/minilm*.py);
nothing serves a MiniLM model (docs/short_text.md says why), so it lives with training.

It is the `tokenizers` library running the encoder's own `tokenizer.json` (BERT normalisation:
lower case, accents kept; BERT pre-tokenisation; [CLS] ... [SEP]), truncated to `max_tokens`
tokens, [CLS] and [SEP] included, keeping the **end** of a longer text (`side="left"`, as the
IMDB models read a review's last words) or its beginning, and padded with [PAD] (id 0) to the
longest text of the batch. The attention mask marks the real tokens; the encoder's mean pooling
ignores the padding, so a text scores the same alone or in any batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

PAD_ID = 0


@dataclass(frozen=True)
class WordPieceBatch:
    input_ids: npt.NDArray[np.int64]
    attention_mask: npt.NDArray[np.int64]


class WordPiece:
    """One loaded `tokenizer.json`, cut to `max_tokens` from the chosen side."""

    def __init__(
        self, path: str | Path, max_tokens: int, side: Literal["left", "right"] = "left"
    ) -> None:
        self.max_tokens = max_tokens
        self.side = side
        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens, direction=side)

    def encode_batch(self, texts: Sequence[str]) -> WordPieceBatch:
        encodings = self._tokenizer.encode_batch(list(texts))
        longest = max((len(e.ids) for e in encodings), default=2)
        ids = np.full((len(encodings), longest), PAD_ID, dtype=np.int64)
        mask = np.zeros((len(encodings), longest), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        return WordPieceBatch(ids, mask)
