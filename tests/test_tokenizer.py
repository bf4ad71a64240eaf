"""The shared tokenizer: each rule of the Keras IMDB encoding, and properties on arbitrary text."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from service.tokenizer import (
    FILTERS,
    OOV_ID,
    START_ID,
    build_vocabulary,
    encode,
    encode_batch,
    encode_batch_window,
    encode_explained,
    encode_window,
    last_words,
    split_words,
)

WORD_INDEX = {"the": 1, "movie": 2, "it's": 3, "sci": 4, "fi": 5, "br": 6, "most\x85and": 7}
VOCAB = build_vocabulary(WORD_INDEX, num_words=10_000)


def reference_encode(
    text: str, word_index: dict[str, int], num_words: int, maxlen: int
) -> list[int]:
    """A plain, slow statement of keras imdb.load_data + pad_sequences, character by character."""
    lowered = text.lower()
    chars = [" " if c in FILTERS else c for c in lowered]
    words, current = [], ""
    for c in chars:
        if c == " ":
            if current:
                words.append(current)
            current = ""
        else:
            current += c
    if current:
        words.append(current)
    ids = [START_ID]
    for w in words:
        i = word_index[w] + 3 if w in word_index else OOV_ID
        ids.append(i if i < num_words else OOV_ID)
    ids = ids[-maxlen:]
    return [0] * (maxlen - len(ids)) + ids


def test_br_tag_gives_the_word_br() -> None:
    assert split_words("Great.<br /><br />Loved it") == ["great", "br", "br", "loved", "it"]


def test_apostrophe_keeps_word_whole() -> None:
    assert split_words("It's fine") == ["it's", "fine"]


def test_hyphen_splits_words() -> None:
    assert split_words("a sci-fi movie") == ["a", "sci", "fi", "movie"]


def test_nel_and_nbsp_do_not_split() -> None:
    assert split_words("most\x85and x\xa0y") == ["most\x85and", "x\xa0y"]


def test_tab_and_newline_split_but_other_whitespace_does_not() -> None:
    assert split_words("a\tb\nc\rd\u2003e") == ["a", "b", "c\rd\u2003e"]


def test_every_filter_character_splits() -> None:
    assert split_words("x".join(FILTERS)) == ["x"] * (len(FILTERS) - 1)


def test_lower_cases() -> None:
    assert split_words("THE Movie") == ["the", "movie"]


def test_ids_are_rank_plus_three_with_start_id_in_front() -> None:
    row = encode("The movie", VOCAB, maxlen=5)
    assert row.tolist() == [0, 0, START_ID, 4, 5]
    assert row.dtype == np.int32


def test_unknown_and_rare_words_become_oov() -> None:
    vocab = build_vocabulary({"the": 1, "rare": 9997}, num_words=10_000)
    assert encode("the rare unknown", vocab, maxlen=4).tolist() == [START_ID, 4, OOV_ID, OOV_ID]


def test_rank_9996_is_the_last_in_vocabulary() -> None:
    vocab = build_vocabulary({"a": 9996, "b": 9997}, num_words=10_000)
    assert vocab == {"a": 9999}


def test_truncating_keeps_the_last_ids_and_drops_start() -> None:
    text = " ".join(["the"] * 30 + ["movie"])
    row = encode(text, VOCAB, maxlen=20)
    assert row.tolist() == [4] * 19 + [5]


def test_exactly_maxlen_words_drop_the_start_id() -> None:
    row = encode(" ".join(["movie"] * 20), VOCAB, maxlen=20)
    assert row.tolist() == [5] * 20


def test_empty_text_is_start_id_only() -> None:
    assert encode("", VOCAB, maxlen=3).tolist() == [0, 0, START_ID]


def test_explained_encoding_reports_window_and_cut() -> None:
    enc = encode_explained("the " * 25 + "sci-fi", VOCAB, maxlen=20)
    assert enc.truncated == 7
    assert enc.words == ["the"] * 18 + ["sci", "fi"]
    assert enc.ids.tolist() == encode("the " * 25 + "sci-fi", VOCAB, maxlen=20).tolist()


def test_explained_short_text_keeps_every_word() -> None:
    enc = encode_explained("The movie", VOCAB, maxlen=20)
    assert (enc.words, enc.truncated) == (["the", "movie"], 0)


def test_greek_capital_sigma_falls_back_to_full_lowering() -> None:
    text = "ΟΔΟΣ." + " x" * 200 + " ΑΣ"
    assert last_words(text, 3) == (split_words(text)[-3:], True)


# Beside words and filters: the characters where the fast path (bytes, rsplit) could part from
# split_words: whitespace that splits bytes but not Keras' words, non-ASCII, a lone surrogate.
SEPARATORS = [" ", ".", "-", "<br />", "\t", "\r", "\x0b", "\x0c", "\x1c", "\xa0", "\u2028"]
words_alphabet = st.sampled_from([*WORD_INDEX, *SEPARATORS, "Σ", "\x85", "İ", "A", "é", "\ud800"])
texts = st.one_of(st.text(), st.lists(words_alphabet, max_size=300).map("".join))


@given(text=texts, maxlen=st.integers(1, 40))
def test_encode_equals_reference_on_arbitrary_text(text: str, maxlen: int) -> None:
    expected = reference_encode(text, WORD_INDEX, 10_000, maxlen)
    assert encode(text, VOCAB, maxlen).tolist() == expected
    assert encode_explained(text, VOCAB, maxlen).ids.tolist() == expected


@given(text=texts, count=st.integers(0, 40))
def test_reading_from_the_end_equals_full_tokenization(text: str, count: int) -> None:
    words = split_words(text)
    assert last_words(text, count) == (words[-count:] if count else [], len(words) > count)


@given(text=texts, num_words=st.integers(1, 12))
def test_vocabulary_size_caps_ids(text: str, num_words: int) -> None:
    expected = reference_encode(text, WORD_INDEX, num_words, 20)
    assert encode(text, build_vocabulary(WORD_INDEX, num_words), 20).tolist() == expected


def test_batch_rows_equal_single_encodings() -> None:
    batch = encode_batch(["the movie", "", "sci-fi " * 40], VOCAB, maxlen=20)
    assert batch.shape == (3, 20)
    for row, text in zip(batch, ["the movie", "", "sci-fi " * 40], strict=True):
        assert row.tolist() == encode(text, VOCAB, 20).tolist()


@given(text=texts, maxlen=st.integers(1, 40))
def test_window_flag_says_whether_words_were_cut(text: str, maxlen: int) -> None:
    ids, truncated = encode_window(text, VOCAB, maxlen)
    assert ids.tolist() == encode(text, VOCAB, maxlen).tolist()
    assert truncated == (encode_explained(text, VOCAB, maxlen).truncated > 0)


@given(batch=st.lists(texts, max_size=5), maxlen=st.integers(1, 30))
def test_batch_rows_and_cuts_equal_single_encodings(batch: list[str], maxlen: int) -> None:
    ids, cut = encode_batch_window(batch, VOCAB, maxlen)
    assert ids.shape == (len(batch), maxlen)
    for row, was_cut, text in zip(ids, cut, batch, strict=True):
        single, single_cut = encode_window(text, VOCAB, maxlen)
        assert row.tolist() == single.tolist()
        assert was_cut == single_cut
