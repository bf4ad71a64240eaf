"""Reading the IMDB reviews (official aclImdb layout) and the Keras word index; downloads if absent.

A source is the `aclImdb_v1.tar.gz` tarball, an extracted `aclImdb/` folder, or a folder holding
either (such as `../shared/data/imdb/`). Reviews live at
`aclImdb/{train,test}/{pos,neg}/{id}_{rating}.txt`; `train/unsup` and everything else is ignored.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tarfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

log = logging.getLogger(__name__)

DATASET_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
DATASET_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
WORD_INDEX_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"
DEFAULT_CACHE = Path.home() / ".cache" / "imdb-sentiment"
SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
_REVIEW = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


@dataclass(frozen=True)
class Reviews:
    """One split of the data set, sorted by (label, id) so every read gives the same order."""

    texts: list[str]
    labels: npt.NDArray[np.int8]
    """1 for a positive review (rating 7-10), 0 for a negative one (rating 1-4)."""
    names: list[str]
    """The file name of each review, `{id}_{rating}`, for provenance."""

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, index: npt.NDArray[np.int64]) -> Reviews:
        return Reviews(
            [self.texts[i] for i in index], self.labels[index], [self.names[i] for i in index]
        )


def md5sum(path: Path) -> str:
    return _digest(path, hashlib.md5(usedforsecurity=False))


def sha256sum(path: Path) -> str:
    return _digest(path, hashlib.sha256())


def _digest(path: Path, h: hashlib._Hash) -> str:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: Path, md5: str) -> Path:
    """Download `url` to `dest` with a progress bar, failing loudly on a checksum mismatch."""
    if dest.exists() and md5sum(dest) == md5:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(dest.suffix + ".part")
    log.info("downloading %s to %s", url, dest)
    with urllib.request.urlopen(url) as response, open(partial, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                bar.update(len(block))
    actual = md5sum(partial)
    if actual != md5:
        partial.unlink()
        raise ValueError(f"{url}: md5 {actual}, expected {md5}")
    partial.replace(dest)
    return dest


def find_dataset(path: Path | None, cache_dir: Path = DEFAULT_CACHE) -> Path:
    """The tarball or `aclImdb/` folder to read: under `path` if given, else downloaded."""
    if path is None:
        return download(DATASET_URL, cache_dir / "aclImdb_v1.tar.gz", DATASET_MD5)
    if path.is_file() or (path / "train").is_dir():
        return path
    for candidate in [path / "aclImdb", *sorted(path.glob("aclImdb*.tar.gz"))]:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no aclImdb tarball or folder at {path}")


def find_word_index(path: Path | None, cache_dir: Path = DEFAULT_CACHE) -> Path:
    """The Keras `imdb_word_index.json`: `path` (a file or a folder holding it), else downloaded."""
    if path is None:
        return download(WORD_INDEX_URL, cache_dir / "imdb_word_index.json", WORD_INDEX_MD5)
    found = path / "imdb_word_index.json" if path.is_dir() else path
    if not found.is_file():
        raise FileNotFoundError(f"no imdb_word_index.json at {path}")
    actual = md5sum(found)
    if actual != WORD_INDEX_MD5:
        raise ValueError(f"{found}: md5 {actual}, expected {WORD_INDEX_MD5}")
    return found


def _members(source: Path) -> Iterator[tuple[str, bytes]]:
    if source.is_dir():
        for file in sorted(source.glob("*/*/*.txt")):
            yield file.relative_to(source).as_posix(), file.read_bytes()
        return
    with tarfile.open(source, "r:*") as tar:
        for member in tar:
            if member.isfile() and _REVIEW.search(member.name):
                f = tar.extractfile(member)
                if f is not None:
                    yield member.name, f.read()


def read_dataset(source: Path) -> dict[str, Reviews]:
    """Read the train and test splits from a tarball or an `aclImdb/` folder, showing progress."""
    found: dict[str, list[tuple[int, int, str, str]]] = {s: [] for s in SPLITS}
    for name, data in tqdm(_members(source), desc=f"reading {source.name}", unit=" files"):
        match = _REVIEW.search(name)
        if match is None:
            continue
        split, label, review_id, rating = match.groups()
        found[split].append((LABELS[label], int(review_id), f"{review_id}_{rating}", data.decode()))
    result = {}
    for split, rows in found.items():
        if not rows:
            raise ValueError(f"{source}: no reviews in aclImdb/{split}/{{pos,neg}}")
        rows.sort()
        result[split] = Reviews(
            [r[3] for r in rows],
            np.array([r[0] for r in rows], dtype=np.int8),
            [r[2] for r in rows],
        )
    return result
