"""The WordPiece tokenizer of all-MiniLM-L6-v2, shared by training (training/minilm*.py) and the
service (the `minilm` model: service/registry.py).

It is the `tokenizers` library running the encoder's own `tokenizer.json` (BERT normalisation:
lower case, accents kept; BERT pre-tokenisation; [CLS] ... [SEP]), truncated to `max_tokens`
tokens, [CLS] and [SEP] included, keeping the **end** of a longer text (`side="left"`, as the
IMDB models read a review's last words) or its beginning, and padded with [PAD] (id 0). The
attention mask marks the real tokens; the encoder's mean pooling ignores the padding, so a text
scores the same alone or in any batch, padded to the batch's longest text (`encode_batch`) or to
`max_tokens` (`encode_rows`, the fixed-width rows the service batches).
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
        self.vocab_size = self._tokenizer.get_vocab_size()

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's ids, [CLS] and [SEP] included, unpadded."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def encode_batch(self, texts: Sequence[str]) -> WordPieceBatch:
        """Ids and attention mask, padded to the longest text of the batch."""
        rows = self.token_ids(texts)
        longest = max((len(r) for r in rows), default=2)
        ids = np.full((len(rows), longest), PAD_ID, dtype=np.int64)
        mask = np.zeros((len(rows), longest), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return WordPieceBatch(ids, mask)

    def encode_rows(self, texts: Sequence[str], out: npt.NDArray[np.int32]) -> None:
        """Write each text's ids into its row of `out` (shape (len(texts), max_tokens), zeros:
        [PAD]), from the left; the mask is `out != PAD_ID`."""
        for i, r in enumerate(self.token_ids(texts)):
            out[i, : len(r)] = r
