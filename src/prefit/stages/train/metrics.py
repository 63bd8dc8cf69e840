"""Evaluation metrics, named exactly (plain "F1" is ambiguous: micro-F1 equals accuracy here).

- micro_f1, macro_f1, accuracy over all classes;
- per-class precision / recall / F1 / support;
- non_majority_micro_f1: micro-F1 over every class except the largest training class
  (Shi et al. 2022's multi-class metric);
- minority_mean_f1: mean F1 of the classes whose training size is below half the largest's;
- confusion matrix (rows: true label, columns: predicted).
Multi-seed results are reported as mean +- SEM (standard error of the mean, sample std / sqrt(n)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str], train_counts: Sequence[int]) -> dict:
    """scikit-learn computes every number; this names them and adds the imbalance-specific subsets."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    yt, yp = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    k = len(labels)
    idx = list(range(k))
    precision, recall, f1, support = precision_recall_fscore_support(yt, yp, labels=idx, average=None, zero_division=0)
    counts = np.asarray(train_counts)
    majority = int(np.argmax(counts))
    non_majority = [i for i in idx if i != majority]
    minority = [i for i in idx if counts[i] < counts.max() / 2]

    def micro(subset: list[int]) -> float:
        return float(f1_score(yt, yp, labels=subset, average="micro", zero_division=0)) if len(yt) and subset else 0.0

    return {
        "n": int(len(yt)),
        "accuracy": float(accuracy_score(yt, yp)) if len(yt) else 0.0,
        "micro_f1": micro(idx),
        "macro_f1": float(f1.mean()),
        "non_majority_micro_f1": micro(non_majority),
        "minority_mean_f1": float(f1[minority].mean()) if minority else None,
        "majority_class": labels[majority],
        "minority_classes": [labels[i] for i in minority],
        "per_class": {
            lab: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i]),
                  "train_count": int(counts[i])}
            for i, lab in enumerate(labels)
        },
        "confusion_matrix": {"labels": list(labels), "matrix": confusion_matrix(yt, yp, labels=idx).tolist()},
    }


def mean_sem(values: Sequence[float]) -> tuple[float, float]:
    v = [float(x) for x in values if x is not None]
    if not v:
        return float("nan"), float("nan")
    m = sum(v) / len(v)
    if len(v) < 2:
        return m, 0.0
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    return m, sd / math.sqrt(len(v))
