"""A fitted peer (tfidf-lr, probe) saved without pickle, and loaded back as plain arrays.

model/peer.safetensors   the logistic regression (coef, intercept, classes) and, for tfidf-lr, idf
model/peer.json          settings: the TF-IDF vocabulary and options, or the probe's embedding spec

Loading a pickle runs whatever code the file names, so a model folder from elsewhere could run
code on `score --model DIR`; these two files hold only numbers and JSON. A folder that still holds
a pickle (`sklearn.joblib`, made by prefit 0.1's peers) is refused, never unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from prefit.errors import InputError

PEERS = ("tfidf-lr", "probe")  # the peer methods: scikit-learn models on TF-IDF or frozen-encoder features

WEIGHTS, SETTINGS = "peer.safetensors", "peer.json"
PICKLES = ("*.joblib", "*.pkl", "*.pickle")


def save_peer(model_dir: Path, method: str, classifier, *, vectorizer=None, embedding: dict | None = None) -> None:
    """Write the fitted logistic regression (and the TF-IDF vectorizer, or the embedding spec)."""
    from safetensors.numpy import save_file

    from prefit.jsonl import write_json_atomic

    arrays = {"coef": np.ascontiguousarray(classifier.coef_, dtype=np.float64),
              "intercept": np.ascontiguousarray(classifier.intercept_, dtype=np.float64),
              "classes": np.asarray(classifier.classes_, dtype=np.int64)}
    settings: dict = {"method": method}
    if vectorizer is not None:
        arrays["idf"] = np.ascontiguousarray(vectorizer.idf_, dtype=np.float64)
        settings["tfidf"] = {"vocabulary": {t: int(i) for t, i in vectorizer.vocabulary_.items()},
                             "ngram_range": list(vectorizer.ngram_range), "sublinear_tf": vectorizer.sublinear_tf,
                             "lowercase": vectorizer.lowercase, "norm": vectorizer.norm}
    if embedding is not None:
        settings["embedding"] = embedding
    save_file(arrays, str(model_dir / WEIGHTS))
    write_json_atomic(model_dir / SETTINGS, settings)


def refuse_pickles(model_dir: Path) -> None:
    found = sorted(p.name for pattern in PICKLES for p in model_dir.glob(pattern))
    if found:
        raise InputError(f"refused: {found[0]} is a pickle, and loading a pickle can run code; prefit stores peers as "
                         f"{WEIGHTS} + {SETTINGS} — train the model again with this version", file=model_dir)


class LoadedPeer:
    """A saved peer's arrays: `features(texts)` then `proba(features)`, as scikit-learn computes them."""

    def __init__(self, model_dir: Path, n_labels: int | None = None) -> None:
        """Load and check model_dir's peer (its classes index `n_labels` labels, when given); a
        damaged or hand-edited folder is one InputError here, not a traceback while scoring."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        refuse_pickles(model_dir)
        w, s = model_dir / WEIGHTS, model_dir / SETTINGS
        if not w.exists() or not s.exists():
            raise InputError(f"expected the saved peer's {WEIGHTS} and {SETTINGS} here (a tfidf-lr/probe run's model/, or the "
                             "tfidf/ of a blended model)", file=model_dir)
        try:
            self.arrays = load_file(str(w))
            self.settings = json.loads(s.read_text(encoding="utf-8"))
            coef, intercept, classes = self.arrays["coef"], self.arrays["intercept"], self.arrays["classes"]
        except (SafetensorError, OSError, UnicodeDecodeError, ValueError, KeyError) as e:
            raise InputError(f"damaged peer model ({type(e).__name__}: {e})", file=model_dir) from e
        if coef.ndim != 2 or intercept.shape != (coef.shape[0],) or len(classes) != max(coef.shape[0], 2):
            raise InputError(f"damaged peer model: coef {coef.shape}, intercept {intercept.shape}, {len(classes)} classes",
                             file=w)
        if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
            raise InputError("damaged peer model: coef or intercept is not finite", file=w)
        if (classes.dtype.kind not in "iu" or len(set(classes.tolist())) != len(classes) or classes.min() < 0
                or (n_labels is not None and classes.max() >= n_labels)):
            raise InputError(f"damaged peer model: classes {classes.tolist()[:10]} are not distinct label indices"
                             + (f" below {n_labels}" if n_labels is not None else ""), file=w, field="classes")
        self.coef, self.intercept, self.classes = coef, intercept, classes
        if not isinstance(self.settings, dict) or self.settings.get("method") not in PEERS:
            raise InputError(f"expected an object with a method of {', '.join(PEERS)}", file=s, field="method")
        self.method, self.settings_path = self.settings["method"], s
        self._vectorizer = None
        if self.method == "tfidf-lr":
            self._check_tfidf(s, w)
        else:
            self._check_embedding(s)

    def _check_tfidf(self, s: Path, w: Path) -> None:
        t, idf = self.settings.get("tfidf"), self.arrays.get("idf")
        ok = (isinstance(t, dict) and isinstance(t.get("vocabulary"), dict) and isinstance(t.get("ngram_range"), list)
              and len(t["ngram_range"]) == 2 and all(isinstance(n, int) and n >= 1 for n in t["ngram_range"])
              and isinstance(t.get("sublinear_tf"), bool) and isinstance(t.get("lowercase"), bool) and t.get("norm") in ("l1", "l2", None))
        if not ok:
            raise InputError("damaged peer model: expected tfidf with vocabulary, ngram_range, sublinear_tf, lowercase, norm",
                             file=s, field="tfidf")
        if idf is None or idf.ndim != 1 or not np.isfinite(idf).all() or len(idf) != self.coef.shape[1]:
            raise InputError(f"damaged peer model: idf must be {self.coef.shape[1]} finite numbers (one per coef column)", file=w,
                             field="idf")
        index = t["vocabulary"].values()
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in index) or sorted(index) != list(range(len(idf))):
            raise InputError(f"damaged peer model: vocabulary indices must be 0..{len(idf) - 1}, once each", file=s, field="tfidf")

    def _check_embedding(self, s: Path) -> None:
        from dataclasses import fields

        from prefit.model.embeddings import EmbeddingSpec

        spec = self.settings.get("embedding")
        if not isinstance(spec, dict) or "model" not in spec or set(spec) != {f.name for f in fields(EmbeddingSpec)}:
            raise InputError(f"damaged peer model: expected embedding settings ({', '.join(f.name for f in fields(EmbeddingSpec))})",
                             file=s, field="embedding")

    def features(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if self.method == "probe":
            from prefit.model.embeddings import EmbeddingSpec, encode

            x = encode(texts, EmbeddingSpec(**self.settings["embedding"]), batch_size=batch_size)
            if x.shape[1] != self.coef.shape[1]:
                raise InputError(f"the embedding model gives {x.shape[1]} features but the peer was fitted on {self.coef.shape[1]}",
                                 file=self.settings_path, field="embedding")
            return x
        if self._vectorizer is None:
            from sklearn.feature_extraction.text import TfidfVectorizer

            t = self.settings["tfidf"]
            vec = TfidfVectorizer(vocabulary=t["vocabulary"], ngram_range=tuple(t["ngram_range"]), sublinear_tf=t["sublinear_tf"],
                                  lowercase=t["lowercase"], norm=t["norm"])
            vec.idf_ = self.arrays["idf"]
            self._vectorizer = vec
        return self._vectorizer.transform(texts)

    def proba(self, x) -> np.ndarray:
        """LogisticRegression.predict_proba: softmax of the decision function, or for two classes
        the logistic of its one column. Columns follow `classes` (label indices seen in training)."""
        z = np.asarray(x @ self.coef.T) + self.intercept
        if self.coef.shape[0] == 1:
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1 - p1, p1], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
