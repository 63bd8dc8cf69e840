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
    yt, yp = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    k = len(labels)
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (yt, yp), 1)
    tp = np.diag(cm).astype(float)
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    precision = np.divide(tp, tp + fp, out=np.zeros(k), where=(tp + fp) > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros(k), where=(tp + fn) > 0)
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(k), where=(2 * tp + fp + fn) > 0)

    def micro(idx) -> float:
        t, p, n = tp[idx].sum(), fp[idx].sum(), fn[idx].sum()
        return float(2 * t / (2 * t + p + n)) if (2 * t + p + n) > 0 else 0.0

    counts = np.asarray(train_counts)
    majority = int(np.argmax(counts))
    non_majority = [i for i in range(k) if i != majority]
    minority = [i for i in range(k) if counts[i] < counts.max() / 2]
    return {
        "n": int(len(yt)),
        "accuracy": float((yt == yp).mean()) if len(yt) else 0.0,
        "micro_f1": micro(list(range(k))),
        "macro_f1": float(f1.mean()),
        "non_majority_micro_f1": micro(non_majority),
        "minority_mean_f1": float(f1[minority].mean()) if minority else None,
        "majority_class": labels[majority],
        "minority_classes": [labels[i] for i in minority],
        "per_class": {
            lab: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(cm[i].sum()),
                  "train_count": int(counts[i])}
            for i, lab in enumerate(labels)
        },
        "confusion_matrix": {"labels": list(labels), "matrix": cm.tolist()},
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
