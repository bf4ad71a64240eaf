"""`make overload`'s accounting of the worker's CPU (bench/overload.py), on made-up levels."""

from __future__ import annotations

import pytest

from bench.overload import price_refusals


def level(cpu_s: float, served: int, refused: int) -> dict[str, object]:
    return {"worker_cpu_s": cpu_s, "statuses": {"200": served, "503": refused}}


def test_a_refusal_is_priced_by_what_the_level_spent_beyond_its_200s() -> None:
    # 1x: 4.2 ms per 200. 5x: 4,000 200s cost 16.8 s at that price; the 1.0 s left is spread
    # over 10,000 refusals: 100 us each.
    runs = [level(20 * 0.999, 4757, 10), level(17.8, 4000, 10_000)]
    price_refusals(runs)
    assert runs[0]["refusal_us_in_place"] is None  # the level the price of a 200 comes from
    assert runs[0]["worker_cpu_ms_per_200"] == pytest.approx(4.2, rel=1e-3)
    assert runs[1]["worker_cpu_ms_per_200"] == pytest.approx(4.45)
    assert runs[1]["refusal_us_in_place"] == pytest.approx(100, rel=0.01)


def test_a_level_without_refusals_has_no_refusal_price() -> None:
    runs = [level(10.0, 2000, 0), level(10.0, 2000, 0)]
    price_refusals(runs)
    assert runs[1]["refusal_us_in_place"] is None
