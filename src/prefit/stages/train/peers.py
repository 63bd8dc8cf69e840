"""The peers a user would try before finetuning a transformer, as prefit methods.

tfidf-lr: TF-IDF of word 1-2-grams (sublinear tf) + logistic regression with balanced class
  weights (scikit-learn).
probe: the frozen encoder's own sentence embeddings (embeddings.py: the checkpoint's pooling and
  normalisation) + logistic regression with balanced class weights.

Both write the same run directory as the transformer methods (model/, metrics.json, run.json,
train.log), so `train compare` puts them in one table; the model is stored without pickle
(peer_store.py). Their one hyper-parameter is the logistic
regression's inverse regularisation strength C (`--peer-c`), which `train compare --select` tunes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

log = logging.getLogger("prefit")


def _classifier(c: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)


def fit_predict(method: str, train_texts: list[str], train_y: list[int], eval_texts: list[str], *, c: float, seed: int,
                model: str | None, max_length: int | None, progress: bool, cache_dir: str | Path | None):
    """Fit `method` on the training texts; return (fitted object to save, eval probabilities, settings)."""
    if method == "tfidf-lr":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline

        from prefit.errors import InputError

        pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2), _classifier(c, seed))
        try:
            pipe.fit(train_texts, train_y)
        except ValueError as e:
            if "no terms remain" not in str(e) and "empty vocabulary" not in str(e):
                raise
            raise InputError("the training texts give no TF-IDF term: tfidf-lr keeps words and word pairs found in at least 2 "
                             f"texts, and {len(train_texts)} text(s) have none in common", field="text") from e
        return pipe, _proba(pipe, eval_texts) if eval_texts else None, {"ngram_range": [1, 2], "sublinear_tf": True, "min_df": 2, "C": c}
    if method == "probe":
        from prefit.model.embeddings import embedding_spec, encode

        spec = embedding_spec(model, "auto", max_length)
        log.info("probe: %s, %s pooling%s, max length %d", spec.model, spec.pooling, ", normalised" if spec.normalize else "",
                 spec.max_length)
        x_train = encode(train_texts, spec, progress=progress, cache_dir=cache_dir)
        clf = _classifier(c, seed).fit(x_train, train_y)
        proba = _proba(clf, encode(eval_texts, spec, progress=progress, cache_dir=cache_dir)) if eval_texts else None
        return {"classifier": clf, "embedding": spec.__dict__}, proba, {"embedding": spec.__dict__, "C": c}
    raise ValueError(f"not a peer method: {method!r}")


def _proba(clf, x):
    """Probabilities with a column for every class index 0..k-1, also those absent from training."""
    import numpy as np

    p = clf.predict_proba(x)
    full = np.zeros((p.shape[0], int(max(clf.classes_)) + 1))
    full[:, clf.classes_] = p
    return full


def run_peer(cfg, out: Path, train, evals, labels) -> dict:
    """Fit, evaluate and save one peer run into `out` (run.py has made the folder and the log)."""
    from prefit.jsonl import write_json_atomic
    from prefit.model.peer_store import save_peer
    from prefit.stages.train.metrics import classification_metrics
    from prefit.stages.train.provenance import RUN_SETTINGS, data_fingerprints, package_versions

    t0 = time.perf_counter()
    k = len(labels.labels)
    log.info("method %s, seed %d, C %g, %d classes, %d train / %s eval examples", cfg.method, cfg.seed, cfg.recipe.peer_c, k,
             len(train.y), len(evals.y) if evals is not None else "no")
    fitted, proba, settings = fit_predict(cfg.method, [r.text for r in train.records], train.y,
                                          [r.text for r in evals.records] if evals is not None else [],
                                          c=cfg.recipe.peer_c, seed=cfg.seed, model=cfg.model,
                                          max_length=None if cfg.method == "probe" else cfg.max_length, progress=cfg.progress,
                                          cache_dir=cfg.cache_dir)
    import numpy as np

    from prefit.stages.train.loop import eval_proba

    metrics: dict = {}
    if evals is not None:  # no evaluation file: a final model trained on all the data, no scores
        proba = np.pad(proba, ((0, 0), (0, k - proba.shape[1])))
        metrics = classification_metrics(evals.y, proba.argmax(-1).tolist(), labels.labels, train.counts(k))
        metrics["eval_proba"] = eval_proba(proba)
    metrics.update(method=cfg.method, seed=cfg.seed, history=[], seconds=round(time.perf_counter() - t0, 2))
    (out / "model").mkdir(exist_ok=True)
    if cfg.method == "tfidf-lr":
        save_peer(out / "model", cfg.method, fitted[-1], vectorizer=fitted[0])
    else:
        save_peer(out / "model", cfg.method, fitted["classifier"], embedding=fitted["embedding"])
    write_json_atomic(out / "model" / "label_map.json", {"labels": labels.labels, "method": cfg.method})
    write_json_atomic(out / RUN_SETTINGS, {"run": asdict(cfg), "settings": settings, "versions": package_versions() | _sk_version(),
                                             "data_sha256": data_fingerprints(cfg)})
    write_json_atomic(out / "metrics.json", metrics)
    return metrics


def _sk_version() -> dict:
    import sklearn

    return {"scikit-learn": sklearn.__version__}


def fit_tfidf(texts: list[str], y: list[int], k: int, eval_texts: list[str], *, c: float, seed: int, model_dir: Path | None):
    """Fit the peer on the training texts; save it into model_dir/PEER_DIR when given; return the
    evaluation texts' probabilities (k columns), or None without evaluation texts."""
    import numpy as np

    from prefit.model.blend import PEER_DIR
    from prefit.model.peer_store import save_peer

    fitted, proba, _ = fit_predict("tfidf-lr", texts, y, eval_texts, c=c, seed=seed, model=None, max_length=None, progress=False,
                                   cache_dir=None)
    if model_dir is not None:
        (model_dir / PEER_DIR).mkdir(parents=True, exist_ok=True)
        save_peer(model_dir / PEER_DIR, "tfidf-lr", fitted[-1], vectorizer=fitted[0])
    return None if proba is None else np.pad(proba, ((0, 0), (0, k - proba.shape[1])))
