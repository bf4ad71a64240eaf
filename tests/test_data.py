"""Reading the aclImdb layout (real and generated tarballs, a folder) and the word index."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from training.data import (
    WORD_INDEX_MD5,
    Reviews,
    download,
    find_dataset,
    find_word_index,
    md5sum,
    read_dataset,
)

TINY = {
    "aclImdb/train/pos/0_9.txt": "Great fun.",
    "aclImdb/train/pos/1_7.txt": "Good enough.",
    "aclImdb/train/neg/0_2.txt": "Dull.<br />Very dull.",
    "aclImdb/train/unsup/0_0.txt": "Unlabelled: must be ignored.",
    "aclImdb/test/pos/0_10.txt": "Loved it.",
    "aclImdb/test/neg/0_1.txt": "Hated it.",
    "aclImdb/test/neg/1_3.txt": "Meh \u00e9t\u00e9.",
    "aclImdb/train/labeledBow.feat": "0 0:1",
    "aclImdb/README": "readme",
}


def make_tarball(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in TINY.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def check_tiny(splits: dict[str, Reviews]) -> None:
    train, test = splits["train"], splits["test"]
    assert train.texts == ["Dull.<br />Very dull.", "Great fun.", "Good enough."]
    assert train.labels.tolist() == [0, 1, 1]
    assert train.names == ["0_2", "0_9", "1_7"]
    assert test.texts == ["Hated it.", "Meh \u00e9t\u00e9.", "Loved it."]
    assert test.labels.dtype == np.int8


def test_reads_a_generated_tarball_and_ignores_unsup(tmp_path: Path) -> None:
    check_tiny(read_dataset(make_tarball(tmp_path / "aclImdb_v1.tar.gz")))


def test_reads_an_extracted_folder(tmp_path: Path) -> None:
    with tarfile.open(make_tarball(tmp_path / "a.tar.gz")) as tar:
        tar.extractall(tmp_path, filter="data")
    check_tiny(read_dataset(find_dataset(tmp_path)))
    check_tiny(read_dataset(tmp_path / "aclImdb"))


def test_finds_a_tarball_inside_a_folder(tmp_path: Path) -> None:
    tarball = make_tarball(tmp_path / "aclImdb_v1.tar.gz")
    assert find_dataset(tmp_path) == tarball


def test_missing_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no aclImdb tarball or folder"):
        find_dataset(tmp_path)


def test_empty_split_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "aclImdb" / "train" / "pos").mkdir(parents=True)
    (tmp_path / "aclImdb" / "train" / "pos" / "0_9.txt").write_text("ok")
    with pytest.raises(ValueError, match="no reviews in aclImdb/test"):
        read_dataset(tmp_path / "aclImdb")


def test_word_index_checksum_is_enforced(tmp_path: Path) -> None:
    fake = tmp_path / "imdb_word_index.json"
    fake.write_text('{"the": 1}')
    with pytest.raises(ValueError, match="md5"):
        find_word_index(tmp_path)


@pytest.mark.data
def test_real_word_index_has_the_official_checksum(data_dir: Path) -> None:
    path = find_word_index(data_dir)
    assert md5sum(path) == WORD_INDEX_MD5


@pytest.mark.data
@pytest.mark.slow
def test_real_tarball_has_12500_reviews_per_folder(imdb: dict[str, Reviews]) -> None:
    splits = imdb
    for split in ("train", "test"):
        labels = splits[split].labels
        assert len(labels) == 25_000
        assert int((labels == 1).sum()) == 12_500
        assert int((labels == 0).sum()) == 12_500
    assert all(
        int(n.split("_")[1]) >= 7
        for n, y in zip(splits["test"].names, splits["test"].labels, strict=True)
        if y
    )


def test_download_checks_the_md5_and_keeps_nothing_on_mismatch(tmp_path: Path) -> None:
    source = make_tarball(tmp_path / "source.tar.gz")
    url = source.resolve().as_uri()  # urllib reads file:// like https://, progress bar included
    dest = download(url, tmp_path / "cache" / "aclImdb_v1.tar.gz", md5sum(source))
    assert dest.read_bytes() == source.read_bytes()
    with pytest.raises(ValueError, match="md5"):
        download(url, tmp_path / "cache2" / "aclImdb_v1.tar.gz", "0" * 32)
    assert not any((tmp_path / "cache2").iterdir())
