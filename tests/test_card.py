"""The contract between training and the service (service.card): the committed files parse as
they are, and writing them back gives the same bytes, so nothing in them escapes the types."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.card import CARD, GOLDEN, MANIFEST, GoldenSet, Manifest, ModelCard, write_json
from tests.conftest import MODELS, SERVED_MODELS


@pytest.mark.parametrize("name", SERVED_MODELS)
def test_committed_card_parses_and_writes_back_byte_identical(name: str, tmp_path: Path) -> None:
    card = ModelCard.read(MODELS / name / CARD)
    card.write(tmp_path / CARD)
    assert card.name == name
    assert (tmp_path / CARD).read_bytes() == (MODELS / name / CARD).read_bytes()


@pytest.mark.parametrize("name", SERVED_MODELS)
def test_committed_golden_set_parses_and_writes_back_byte_identical(
    name: str, tmp_path: Path
) -> None:
    golden = GoldenSet.validate_json((MODELS / name / GOLDEN).read_bytes())
    write_json(tmp_path / GOLDEN, GoldenSet.dump_python(golden, mode="json"))
    assert len(golden) == 20
    assert (tmp_path / GOLDEN).read_bytes() == (MODELS / name / GOLDEN).read_bytes()


def test_manifest_lists_model_folders_only() -> None:
    manifest = Manifest.read(MODELS / MANIFEST)
    assert manifest.models == sorted(p.parent.name for p in MODELS.glob(f"*/{CARD}"))
    assert (MODELS / manifest.word_index).is_file()


def test_card_with_an_unknown_key_is_refused() -> None:
    data = ModelCard.read(MODELS / "ff" / CARD).model_dump(exclude_unset=True)
    with pytest.raises(ValidationError, match="inputname"):
        ModelCard.model_validate({**data, "inputname": "input_ids"})


@pytest.mark.parametrize("name", ["../ff", "ff/..", "", "a b"])
def test_manifest_refuses_a_name_that_is_not_a_plain_folder(name: str) -> None:
    with pytest.raises(ValidationError):
        Manifest(models=[name])
