"""The statistics of R caret's `confusionMatrix`, as the chapter reports them for each model.

Conventions follow caret: the table has predictions in rows and the reference in columns, the
positive class is stated explicitly (the chapter's is "0", caret's first factor level), and the
tests and intervals come from scipy and statsmodels rather than being written by hand.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint


@dataclass(frozen=True)
class ConfusionStats:
    """Everything `caret::confusionMatrix` prints for a two-class problem."""

    table: list[list[int]]
    """[[pred 0 & ref 0, pred 0 & ref 1], [pred 1 & ref 0, pred 1 & ref 1]]."""
    positive_class: int
    accuracy: float
    accuracy_ci95: tuple[float, float]
    no_information_rate: float
    p_value_acc_greater_nir: float
    kappa: float
    mcnemar_p_value: float
    sensitivity: float
    specificity: float
    pos_pred_value: float
    neg_pred_value: float
    prevalence: float
    detection_rate: float
    detection_prevalence: float
    balanced_accuracy: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: caret's NA (0/0, for a model that predicts one class) becomes None."""
        return {
            k: None if isinstance(v, float) and math.isnan(v) else v
            for k, v in asdict(self).items()
        }

    def report(self) -> str:
        """A printout laid out like caret's."""
        (a, b), (c, d) = self.table
        lo, hi = self.accuracy_ci95
        rows = [
            "          Reference",
            "Prediction     0     1",
            f"         0 {a:5d} {b:5d}",
            f"         1 {c:5d} {d:5d}",
            "",
            f"               Accuracy : {self.accuracy:.4f}",
            f"                 95% CI : ({lo:.4f}, {hi:.4f})",
            f"    No Information Rate : {self.no_information_rate:.4f}",
            f"    P-Value [Acc > NIR] : {self.p_value_acc_greater_nir:.4g}",
            f"                  Kappa : {self.kappa:.4f}",
            f" Mcnemar's Test P-Value : {self.mcnemar_p_value:.4f}",
            f"            Sensitivity : {self.sensitivity:.4f}",
            f"            Specificity : {self.specificity:.4f}",
            f"         Pos Pred Value : {self.pos_pred_value:.4f}",
            f"         Neg Pred Value : {self.neg_pred_value:.4f}",
            f"             Prevalence : {self.prevalence:.4f}",
            f"         Detection Rate : {self.detection_rate:.4f}",
            f"   Detection Prevalence : {self.detection_prevalence:.4f}",
            f"      Balanced Accuracy : {self.balanced_accuracy:.4f}",
            "",
            f"       'Positive' Class : {self.positive_class}",
        ]
        return "\n".join(rows)


def confusion_table(predicted: npt.ArrayLike, reference: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """2x2 counts with predictions in rows and the reference in columns, classes 0 and 1."""
    pred = np.asarray(predicted).astype(np.int64)
    ref = np.asarray(reference).astype(np.int64)
    table = np.zeros((2, 2), dtype=np.int64)
    np.add.at(table, (pred, ref), 1)
    return table


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def confusion_stats(table: npt.ArrayLike, positive_class: int = 0) -> ConfusionStats:
    """caret's statistics of a 2x2 table (rows: prediction 0, 1; columns: reference 0, 1)."""
    t = np.asarray(table, dtype=np.int64)
    n = int(t.sum())
    correct = int(np.trace(t))
    pos, neg = positive_class, 1 - positive_class
    true_pos, true_neg = int(t[pos, pos]), int(t[neg, neg])
    ref_pos, pred_pos = int(t[:, pos].sum()), int(t[pos, :].sum())
    ref_neg, pred_neg = n - ref_pos, n - pred_pos

    accuracy = correct / n
    ci_low, ci_high = proportion_confint(correct, n, alpha=0.05, method="beta")
    nir = max(ref_pos, ref_neg) / n
    expected = float(t.sum(axis=1) @ t.sum(axis=0)) / n**2
    # R's mcnemar.test defaults to the chi-square statistic with continuity correction.
    mcnemar_p = float(mcnemar(t, exact=False, correction=True).pvalue)
    sensitivity, specificity = _ratio(true_pos, ref_pos), _ratio(true_neg, ref_neg)
    return ConfusionStats(
        table=t.tolist(),
        positive_class=positive_class,
        accuracy=accuracy,
        accuracy_ci95=(float(ci_low), float(ci_high)),
        no_information_rate=nir,
        p_value_acc_greater_nir=float(binomtest(correct, n, nir, alternative="greater").pvalue),
        kappa=(accuracy - expected) / (1 - expected) if expected < 1 else math.nan,
        mcnemar_p_value=mcnemar_p,
        sensitivity=sensitivity,
        specificity=specificity,
        pos_pred_value=_ratio(true_pos, pred_pos),
        neg_pred_value=_ratio(true_neg, pred_neg),
        prevalence=ref_pos / n,
        detection_rate=true_pos / n,
        detection_prevalence=pred_pos / n,
        balanced_accuracy=(sensitivity + specificity) / 2,
    )
