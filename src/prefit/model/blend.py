"""A transformer's probabilities blended with a TF-IDF + logistic-regression peer's.

p = (1 - w) * p_transformer + w * p_tfidf. The two models err differently: TF-IDF keeps the exact
words of the training labels (drug names, "AUC", "CYP3A4") and, with no pretrained features to
distort, transfers to unseen drug families where a fully finetuned encoder can drift
(bench/adme_cv.py). The peer is fitted on the same training records and saved beside the
transformer (model/tfidf/, peer_store.py: no pickle); `score`, `prefit.Classifier` and ONNX
exports apply the blend. Every run reports the blend weights of BLEND_GRID on its evaluation file
(metrics.json "blend"), so one run on a validation split chooses w.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BLEND_GRID = (0.0, 0.25, 0.5, 0.75)
PEER_DIR = "tfidf"


def blend(p_transformer: np.ndarray, p_tfidf: np.ndarray, w: float) -> np.ndarray:
    if not 0.0 <= w < 1.0:
        raise ValueError(f"tfidf weight must be in [0, 1), found {w}")
    return (1.0 - w) * np.asarray(p_transformer) + w * np.asarray(p_tfidf)


class SavedBlend:
    """The peer of a saved model folder (run model/ or export), applied to a transformer's probabilities."""

    def __init__(self, folder: Path, weight: float, n_labels: int) -> None:
        from prefit.model.peer_store import LoadedPeer

        self.peer, self.weight, self.n = LoadedPeer(folder / PEER_DIR, n_labels), weight, n_labels

    def __call__(self, texts: list[str], p_transformer: np.ndarray) -> np.ndarray:
        p = np.zeros((len(texts), self.n), dtype="float64")
        p[:, np.asarray(self.peer.classes, dtype=int)] = self.peer.proba(self.peer.features(texts))
        return blend(p_transformer, p, self.weight).astype("float32")


def saved_blend(folder: Path, meta: dict, n_labels: int, meta_path: Path) -> SavedBlend | None:
    from prefit.errors import InputError

    w = meta.get("tfidf_weight", 0.0)
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= w < 1.0:
        raise InputError(f"expected a number in [0, 1), found {w!r}", file=meta_path, field="tfidf_weight")
    return SavedBlend(folder, float(w), n_labels) if w > 0 else None
