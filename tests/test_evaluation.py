"""caret's confusionMatrix statistics, checked against the chapter's printout for the ff model."""

from __future__ import annotations

import pytest

from training.evaluation import confusion_stats, confusion_table

# The chapter's ff test matrix: rows prediction 0, 1; columns reference 0, 1; positive class 0.
CHAPTER_FF = [[9498, 2936], [3002, 9564]]


def test_chapter_ff_matrix_gives_the_chapter_statistics() -> None:
    stats = confusion_stats(CHAPTER_FF, positive_class=0)
    assert round(stats.accuracy, 4) == 0.7625
    assert tuple(round(x, 4) for x in stats.accuracy_ci95) == (0.7572, 0.7677)
    assert round(stats.kappa, 3) == 0.525
    assert round(stats.mcnemar_p_value, 4) == 0.3989
    assert round(stats.sensitivity, 4) == 0.7598
    assert round(stats.specificity, 4) == 0.7651
    assert round(stats.pos_pred_value, 4) == 0.7639
    assert round(stats.neg_pred_value, 4) == 0.7611
    assert round(stats.detection_prevalence, 4) == 0.4974
    assert stats.no_information_rate == 0.5
    assert stats.prevalence == 0.5
    assert round(stats.detection_rate, 4) == 0.3799
    assert round(stats.balanced_accuracy, 4) == 0.7625
    assert stats.p_value_acc_greater_nir < 2.2e-16


def test_positive_class_one_swaps_sensitivity_and_specificity() -> None:
    zero = confusion_stats(CHAPTER_FF, positive_class=0)
    one = confusion_stats(CHAPTER_FF, positive_class=1)
    assert one.sensitivity == pytest.approx(zero.specificity)
    assert one.pos_pred_value == pytest.approx(zero.neg_pred_value)
    assert one.accuracy == zero.accuracy


def test_table_counts_predictions_in_rows() -> None:
    table = confusion_table([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    assert table.tolist() == [[1, 1], [1, 2]]


def test_report_reads_like_caret() -> None:
    report = confusion_stats(CHAPTER_FF).report()
    assert "Accuracy : 0.7625" in report
    assert "95% CI : (0.7572, 0.7677)" in report
    assert "'Positive' Class : 0" in report


def test_model_predicting_one_class_gives_na_not_an_error() -> None:
    stats = confusion_stats([[0, 0], [40, 60]], positive_class=0)
    assert stats.accuracy == 0.6
    as_dict = stats.to_dict()
    assert as_dict["pos_pred_value"] is None
    assert as_dict["sensitivity"] == 0.0
