"""Binary-outcome metrics (all wrapping scikit-learn) and a validation-only decision threshold.

Threshold-dependent metrics (accuracy, sensitivity, specificity, precision, F1) take a :class:`Threshold`,
which can only be made by :func:`choose_threshold` on validation data (or explicitly with
:meth:`Threshold.fixed` for a pre-registered clinical cut-off). :func:`binary_report` refuses a threshold
that was chosen on the very data it is asked to evaluate. A patient is predicted positive when
``score >= threshold``.

Example:
    >>> import numpy as np
    >>> y_val = np.array([0, 0, 1, 1]); s_val = np.array([0.1, 0.4, 0.35, 0.8])
    >>> thr = choose_threshold(y_val, s_val, rule="youden")
    >>> thr.value
    0.8
    >>> sensitivity(np.array([1, 0, 1]), np.array([0.9, 0.2, 0.5]), thr)
    0.5
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from oncoplan.errors import CohortError, ConfigError, describe_rows
from oncoplan.evaluate.bootstrap import BootstrapResult, bootstrap_many

logger = logging.getLogger(__name__)

RULES = ("youden", "sensitivity")


def check_binary(y_true: Any, score: Any, sample_weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels (0/1) and finite scores of equal length; returns ``(y int array, score float array)``.

    Example:
        >>> check_binary([0, 1], [0.2, 0.7])
        (array([0, 1]), array([0.2, 0.7]))
    """
    y = np.asarray(y_true)
    s = np.asarray(score, dtype=float)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise CohortError(f"y_true and score must be 1-D of equal length, got {y.shape} and {s.shape}")
    bad = np.flatnonzero(~np.isin(y.astype(float), (0.0, 1.0)))
    if len(bad):
        raise CohortError(f"y_true must be 0/1; bad values in {describe_rows(bad)}")
    bad = np.flatnonzero(~np.isfinite(s))
    if len(bad):
        raise CohortError(f"score is missing or infinite in {describe_rows(bad)}")
    if sample_weight is not None and len(np.asarray(sample_weight)) != len(y):
        raise CohortError("sample_weight must have one entry per patient")
    return y.astype(int), s


def fingerprint(y_true: Any, score: Any) -> str:
    """Short SHA-256 of labels and scores, used to recognise the data a threshold was chosen on.

    Example:
        >>> len(fingerprint([0, 1], [0.1, 0.9]))
        16
    """
    y = np.ascontiguousarray(np.asarray(y_true, dtype=np.int64))
    s = np.ascontiguousarray(np.asarray(score, dtype=np.float64))
    return hashlib.sha256(y.tobytes() + b"|" + s.tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Threshold:
    """A decision threshold and where it came from (``score >= value`` means positive).

    Attributes:
        value: the cut-off.
        rule: ``"youden"``, ``"sensitivity"`` or ``"fixed"``.
        chosen_on: ``"validation"`` (from :func:`choose_threshold`) or ``"pre-specified"``.
        n_validation: patients it was chosen on (0 if pre-specified).
        validation_sensitivity, validation_specificity: operating point on the validation data.
        data_fingerprint: :func:`fingerprint` of the validation data ("" if pre-specified).
    """

    value: float
    rule: str
    chosen_on: str
    n_validation: int = 0
    validation_sensitivity: float = float("nan")
    validation_specificity: float = float("nan")
    data_fingerprint: str = ""
    target_sensitivity: float | None = None

    @classmethod
    def fixed(cls, value: float) -> Threshold:
        """A pre-specified (e.g. guideline) cut-off, not learned from any data.

        Example:
            >>> Threshold.fixed(0.5).chosen_on
            'pre-specified'
        """
        return cls(value=float(value), rule="fixed", chosen_on="pre-specified")

    def predict(self, score: Any) -> np.ndarray:
        """0/1 predictions ``score >= value``.

        Example:
            >>> Threshold.fixed(0.5).predict([0.2, 0.5])
            array([0, 1])
        """
        return (np.asarray(score, dtype=float) >= self.value).astype(int)


def choose_threshold(
    y_true_val: Any,
    score_val: Any,
    rule: str = "youden",
    target_sensitivity: float = 0.9,
) -> Threshold:
    """Choose a decision threshold on **validation** data.

    Rules: ``"youden"`` maximises sensitivity + specificity - 1 (ties: the higher threshold);
    ``"sensitivity"`` takes the highest threshold whose validation sensitivity is >= ``target_sensitivity``
    (i.e. the best specificity at that sensitivity). Uses ``sklearn.metrics.roc_curve``.

    Example:
        >>> thr = choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], rule="sensitivity",
        ...                        target_sensitivity=1.0)
        >>> thr.value, thr.chosen_on
        (0.35, 'validation')
    """
    if rule not in RULES:
        raise ConfigError(f"unknown threshold rule {rule!r}", hint=f"use one of {', '.join(RULES)}")
    y, s = check_binary(y_true_val, score_val)
    if y.min() == y.max():
        raise CohortError("the validation data need both outcomes (0 and 1) to choose a threshold")
    fpr, tpr, thr = skm.roc_curve(y, s)
    fpr, tpr, thr = fpr[1:], tpr[1:], thr[1:]  # drop the +inf point (nobody positive)
    if rule == "youden":
        k = int(np.argmax(tpr - fpr))
    else:
        if not 0 < target_sensitivity <= 1:
            raise ConfigError(f"target_sensitivity must be in (0, 1], got {target_sensitivity}")
        k = int(np.flatnonzero(tpr >= target_sensitivity - 1e-12)[0])
    return Threshold(
        value=float(thr[k]),
        rule=rule,
        chosen_on="validation",
        n_validation=len(y),
        validation_sensitivity=float(tpr[k]),
        validation_specificity=float(1 - fpr[k]),
        data_fingerprint=fingerprint(y, s),
        target_sensitivity=target_sensitivity if rule == "sensitivity" else None,
    )


def _need_threshold(threshold: Any) -> Threshold:
    if not isinstance(threshold, Threshold):
        raise ConfigError(
            f"expected a Threshold, got {type(threshold).__name__}",
            hint="choose it on validation data with choose_threshold(), or use Threshold.fixed(value)",
        )
    return threshold


def auc_roc(y_true: Any, score: Any, sample_weight: Any = None) -> float:
    """Area under the ROC curve; wraps ``sklearn.metrics.roc_auc_score``.

    Example:
        >>> auc_roc([0, 1, 0, 1], [0.1, 0.9, 0.3, 0.2])
        0.75
    """
    y, s = check_binary(y_true, score, sample_weight)
    return float(skm.roc_auc_score(y, s, sample_weight=sample_weight))


def auc_pr(y_true: Any, score: Any, sample_weight: Any = None) -> float:
    """Area under the precision-recall curve as average precision; wraps ``average_precision_score``.

    Example:
        >>> auc_pr([0, 1, 0, 1], [0.1, 0.9, 0.3, 0.8])
        1.0
    """
    y, s = check_binary(y_true, score, sample_weight)
    if y.sum() == 0:
        raise ValueError("average precision needs at least one positive")
    return float(skm.average_precision_score(y, s, sample_weight=sample_weight))


def brier(y_true: Any, prob: Any, sample_weight: Any = None) -> float:
    """Brier score of predicted probabilities; wraps ``sklearn.metrics.brier_score_loss``.

    Example:
        >>> brier([0, 1], [0.0, 0.5])
        0.125
    """
    y, p = check_binary(y_true, prob, sample_weight)
    if p.min() < 0 or p.max() > 1:
        raise CohortError(
            "the Brier score needs probabilities in [0, 1]", hint="pass predicted probabilities"
        )
    return float(skm.brier_score_loss(y, p, sample_weight=sample_weight))


def accuracy(y_true: Any, score: Any, threshold: Threshold, sample_weight: Any = None) -> float:
    """Accuracy at ``threshold``; wraps ``sklearn.metrics.accuracy_score``.

    Example:
        >>> accuracy([0, 1, 1], [0.2, 0.7, 0.4], Threshold.fixed(0.5))
        0.6666666666666666
    """
    y, s = check_binary(y_true, score, sample_weight)
    return float(skm.accuracy_score(y, _need_threshold(threshold).predict(s), sample_weight=sample_weight))


def sensitivity(y_true: Any, score: Any, threshold: Threshold, sample_weight: Any = None) -> float:
    """Sensitivity (recall of class 1) at ``threshold``; wraps ``recall_score``. NaN without positives.

    Example:
        >>> sensitivity([0, 1, 1], [0.2, 0.7, 0.4], Threshold.fixed(0.5))
        0.5
    """
    y, s = check_binary(y_true, score, sample_weight)
    pred = _need_threshold(threshold).predict(s)
    return float(skm.recall_score(y, pred, sample_weight=sample_weight, zero_division=np.nan))


def specificity(y_true: Any, score: Any, threshold: Threshold, sample_weight: Any = None) -> float:
    """Specificity (recall of class 0) at ``threshold``; wraps ``recall_score(pos_label=0)``.

    Example:
        >>> specificity([0, 0, 1], [0.2, 0.7, 0.4], Threshold.fixed(0.5))
        0.5
    """
    y, s = check_binary(y_true, score, sample_weight)
    pred = _need_threshold(threshold).predict(s)
    return float(skm.recall_score(y, pred, pos_label=0, sample_weight=sample_weight, zero_division=np.nan))


def precision(y_true: Any, score: Any, threshold: Threshold, sample_weight: Any = None) -> float:
    """Positive predictive value at ``threshold``; wraps ``precision_score``. NaN if nobody is positive.

    Example:
        >>> precision([0, 1, 1], [0.6, 0.7, 0.4], Threshold.fixed(0.5))
        0.5
    """
    y, s = check_binary(y_true, score, sample_weight)
    pred = _need_threshold(threshold).predict(s)
    return float(skm.precision_score(y, pred, sample_weight=sample_weight, zero_division=np.nan))


def f1(y_true: Any, score: Any, threshold: Threshold, sample_weight: Any = None) -> float:
    """F1 score at ``threshold``; wraps ``sklearn.metrics.f1_score``.

    Example:
        >>> f1([0, 1, 1], [0.6, 0.7, 0.4], Threshold.fixed(0.5))
        0.5
    """
    y, s = check_binary(y_true, score, sample_weight)
    pred = _need_threshold(threshold).predict(s)
    return float(skm.f1_score(y, pred, sample_weight=sample_weight, zero_division=np.nan))


def binary_report(
    y_true: Any,
    score: Any,
    threshold: Threshold,
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = 0,
    level: float = 0.95,
    sample_weight: Any = None,
    method: str = "percentile",
) -> dict[str, BootstrapResult]:
    """Every binary metric on test data with a bootstrap CI (resampling stratified on ``y_true``).

    ``threshold`` must come from :func:`choose_threshold` on *other* (validation) data or be
    :meth:`Threshold.fixed`; a threshold whose fingerprint matches these test data is refused. The Brier
    score is included only when ``score`` lies in [0, 1]. The threshold is fixed across resamples (it is not
    re-tuned).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> y = rng.integers(0, 2, 200); s = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(size=200))))
        >>> rep = binary_report(y, s, Threshold.fixed(0.5), n_boot=50)
        >>> sorted(rep)[:3]
        ['accuracy', 'auc_pr', 'auc_roc']
    """
    thr = _need_threshold(threshold)
    y, s = check_binary(y_true, score, sample_weight)
    if thr.chosen_on != "pre-specified" and thr.data_fingerprint == fingerprint(y, s):
        raise ConfigError(
            "the threshold was chosen on the same data it is being evaluated on",
            hint="choose the threshold on a validation split and report metrics on the held-out test split",
        )
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)

    def wrap(fn: Callable[..., float], needs_thr: bool) -> Callable[..., float]:
        if needs_thr:
            return lambda yy, ss, ww: fn(yy, ss, thr, sample_weight=ww)
        return lambda yy, ss, ww: fn(yy, ss, sample_weight=ww)

    metrics = {
        "auc_roc": wrap(auc_roc, False),
        "auc_pr": wrap(auc_pr, False),
        "accuracy": wrap(accuracy, True),
        "sensitivity": wrap(sensitivity, True),
        "specificity": wrap(specificity, True),
        "precision": wrap(precision, True),
        "f1": wrap(f1, True),
    }
    if s.min() >= 0 and s.max() <= 1:
        metrics["brier"] = wrap(brier, False)
    logger.debug("binary_report: threshold %.4g (%s, chosen on %s)", thr.value, thr.rule, thr.chosen_on)
    return bootstrap_many(metrics, y, s, w, n_boot=n_boot, level=level, method=method, stratify=y, seed=seed)
