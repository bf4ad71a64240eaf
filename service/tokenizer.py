"""The one tokenizer that training and serving share: raw review text -> padded word ids.

It reproduces exactly `keras.datasets.imdb.load_data(num_words=N)` followed by
`keras.utils.pad_sequences(maxlen=L)` (padding and truncating 'pre'):

1. lower-case the text; replace each character of `FILTERS` by a space; split on the space
   character ' ' only, dropping empty strings (not `str.split()`: '\\x85' or '\\xa0' stay inside
   words, as in the index's `most\\x85and`);
2. id = frequency rank + 3 (`INDEX_FROM`) for words in the word index, and `OOV_ID` for unknown
   words and for ids >= num_words; `START_ID` goes in front;
3. keep the last L ids and put `PAD_ID` zeros in front of shorter sequences.

Pure Python + numpy, no state, no TensorFlow. Text never enters the ONNX graph: models take ids.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from pathlib import Path

import numpy as np
import numpy.typing as npt

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
PAD_ID = 0
START_ID = 1
OOV_ID = 2
INDEX_FROM = 3

# Python's str.lower() is a per-character map except for the Greek capital sigma, whose lower
# case depends on its neighbours (final sigma). Without it, tokenizing a suffix is exact.
_CONTEXT_SENSITIVE_LOWER = "\u03a3"


Vocabulary = Mapping[str, int]
"""word -> id, holding only the words whose id is below num_words (see `build_vocabulary`)."""


class WordIds(dict[str, int]):
    """The vocabulary `build_vocabulary` makes: a dict, with a copy keyed by UTF-8 bytes."""

    @cached_property
    def utf8(self) -> dict[bytes, int]:
        """The same map keyed by each word's UTF-8 bytes, which `_window_ids` looks up."""
        return {_utf8(w): i for w, i in self.items()}


def load_word_index(path: str | Path) -> dict[str, int]:
    """Read Keras' `imdb_word_index.json` (word -> frequency rank, 1 = most frequent)."""
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    if not isinstance(index, dict) or not all(isinstance(r, int) for r in index.values()):
        raise ValueError(f"{path} is not a word -> rank JSON object")
    return index


def build_vocabulary(word_index: Mapping[str, int], num_words: int) -> WordIds:
    """Map each word whose id (rank + INDEX_FROM) is below num_words to that id."""
    return WordIds((w, r + INDEX_FROM) for w, r in word_index.items() if r + INDEX_FROM < num_words)


def split_words(text: str) -> list[str]:
    """Keras' default text standardisation: lower-case, filter, split on ' ' only."""
    text = text.lower()
    # One str.replace per filter character: as exact as str.translate, and ~10x faster on
    # text with any non-ASCII character, where translate falls back to a slow path.
    for char in FILTERS:
        text = text.replace(char, " ")
    return [w for w in text.split(" ") if w]


# The fast way to the same words (`_tail_words`): filter bytes, not characters. The filters are
# ASCII, and UTF-8 never uses an ASCII byte inside a multi-byte character, so replacing them in
# the UTF-8 bytes is replacing them in the text; `bytes.translate` always runs at C speed, where
# `str.translate` slows down on any non-ASCII character. `bytes.split()` then splits on ASCII
# whitespace: after filtering, ' ' and '\r', '\x0b', '\x0c', which Keras keeps inside words;
# text holding one of these three takes `split_words`. ("surrogatepass": any str has bytes.)
_FILTER_BYTES = bytes.maketrans(FILTERS.encode(), b" " * len(FILTERS))


def _utf8(word: str) -> bytes:
    return word.encode("utf-8", "surrogatepass")


def _tail_words(text: str, count: int) -> tuple[list[bytes], bool]:
    """The last `count` (>= 1) words of `text`, in UTF-8, and whether any word comes before."""
    if _CONTEXT_SENSITIVE_LOWER in text or "\r" in text or "\x0b" in text or "\x0c" in text:
        words = split_words(text)
        return [_utf8(w) for w in words[-count:]], len(words) > count
    parts = _utf8(text.lower()).translate(_FILTER_BYTES).rsplit(None, count)
    more = len(parts) > count
    if more:  # the first part holds every word before the last `count`
        del parts[0]
    return parts, more


def _last_utf8_words(text: str, count: int) -> tuple[list[bytes], bool]:
    """`last_words`, in UTF-8."""
    if _CONTEXT_SENSITIVE_LOWER in text:  # lower-casing a window would not be exact
        return _tail_words(text, count)
    window = 16 * (count + 1)
    while True:
        start = max(0, len(text) - window)
        words, more = _tail_words(text[start:], count)
        # More than `count` words: the first, maybe cut in two by the window's start, is not
        # among the last `count`.
        if more or start == 0:
            return words, more
        window *= 4


def last_words(text: str, count: int) -> tuple[list[str], bool]:
    """The last `count` words of `text` and whether any word comes before them.

    Equal to `split_words(text)[-count:]`, but reads the text from the end and stops once enough
    words are found, so its cost does not grow with the length of the review.
    """
    if count <= 0:
        return [], bool(split_words(text))
    words, more = _last_utf8_words(text, count)
    # One decode for all the words: none holds a space.
    return b" ".join(words).decode("utf-8", "surrogatepass").split(" ") if words else [], more


@dataclass(frozen=True)
class Encoding:
    """What the model sees of one text: its padded ids and the words behind them."""

    ids: npt.NDArray[np.int32]
    words: list[str]
    """The words inside the window, in order (their ids are the last len(words) of `ids`)."""
    truncated: int
    """How many words were cut from the front to fit the window."""


def word_ids(words: Sequence[str], vocabulary: Vocabulary) -> list[int]:
    """Map words to ids; unknown and too rare words become OOV_ID."""
    return list(map(vocabulary.get, words, repeat(OOV_ID, len(words))))


def _pad(ids: list[int], maxlen: int) -> npt.NDArray[np.int32]:
    row = np.zeros(maxlen, dtype=np.int32)
    kept = ids[-maxlen:]
    if kept:
        row[maxlen - len(kept) :] = kept
    return row


def _window_ids(text: str, vocabulary: Vocabulary, maxlen: int) -> tuple[list[int], bool]:
    """The ids inside the window (before padding), and whether words were cut from the front.

    Reads only as much of the end of the text as the window needs.
    """
    if maxlen <= 0:
        return [], bool(split_words(text))
    words, more = _last_utf8_words(text, maxlen)
    if not isinstance(vocabulary, WordIds):  # not from build_vocabulary: slower, as exact
        vocabulary = WordIds(vocabulary)
    ids = list(map(vocabulary.utf8.get, words, repeat(OOV_ID, len(words))))
    if not more and len(ids) < maxlen:
        ids.insert(0, START_ID)
    return ids, more


def encode_window(
    text: str, vocabulary: Vocabulary, maxlen: int
) -> tuple[npt.NDArray[np.int32], bool]:
    """Padded ids of one text, and whether words were cut from its front to fit the window."""
    ids, more = _window_ids(text, vocabulary, maxlen)
    return _pad(ids, maxlen), more


def encode(text: str, vocabulary: Vocabulary, maxlen: int) -> npt.NDArray[np.int32]:
    """Padded ids of one text (see `encode_window`)."""
    return encode_window(text, vocabulary, maxlen)[0]


def encode_batch_window(
    texts: Sequence[str], vocabulary: Vocabulary, maxlen: int
) -> tuple[npt.NDArray[np.int32], list[bool]]:
    """Padded ids of many texts, shape (len(texts), maxlen), and which had words cut."""
    out = np.zeros((len(texts), maxlen), dtype=np.int32)
    cut = []
    for i, text in enumerate(texts):
        ids, more = _window_ids(text, vocabulary, maxlen)
        if ids:  # written in place: a row array per text, then a stack, cost ~10% more
            out[i, maxlen - len(ids) :] = ids
        cut.append(more)
    return out, cut


def encode_batch(
    texts: Sequence[str], vocabulary: Vocabulary, maxlen: int
) -> npt.NDArray[np.int32]:
    """Padded ids of many texts, shape (len(texts), maxlen)."""
    return encode_batch_window(texts, vocabulary, maxlen)[0]


def encode_explained(text: str, vocabulary: Vocabulary, maxlen: int) -> Encoding:
    """Like `encode`, also returning the words in the window and how many were cut."""
    words = split_words(text)
    ids = [START_ID, *word_ids(words, vocabulary)]
    # The start id takes one place of the window, so at most maxlen - 1 words fit beside it.
    kept_words = words[-maxlen:] if len(ids) > maxlen else words
    return Encoding(_pad(ids, maxlen), kept_words, len(words) - len(kept_words))
