"""`aug report`: look at an augmented corpus before training on it (the sanity check of Shi et al.).

Per class, in the frozen encoder's sentence-embedding space (embeddings.py):
- closeness: each class's originals are split in two halves (seeded); the mean cosine similarity of
  the augmented texts to the centroid of the held-out half, next to the same number for the other
  half of the originals. A ratio near 1 means augmented texts sit where new real texts of the class
  would; well below 1, they drift away.
- label preservation: balanced logistic-regression probes trained on the originals label the
  augmented texts, cross-fitted (5 folds: an augmented text is labelled by the probe that did not
  see its source); the share that gets its own class, next to the same probes' rate on the
  held-out originals (what "preserved" looks like for real texts).
- near-copies: the share of augmented texts whose cosine similarity to their own source is at least
  `near_copy` (0.98): they add little beyond oversampling.
- token overlap: the share of each source's content words (lowercased words of 3+ letters, not
  stop words) that its augmented text keeps (quartiles): near 1, little was rephrased; low, meaning
  may be lost. And the distinct augmented texts per source record (a deterministic engine gets its
  variants from segmentation, bergamot.py).
And a 2-D t-SNE projection (scikit-learn) of originals (dots) and augmented texts (crosses),
coloured by class. Numbers go to DIR/report.json, the picture to DIR/projection.png.
"""

from __future__ import annotations

import logging
import os
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from prefit.errors import InputError
from prefit.jsonl import Fields, read_records

log = logging.getLogger("prefit")


@dataclass(frozen=True)
class ReportOptions:
    model: str | None = None
    max_augmented_per_class: int = 300  # a sample keeps the report to minutes on a CPU
    near_copy: float = 0.98
    seed: int = 0
    max_length: int | None = None  # None: the encoder's own max_seq_length
    fields: Fields = Fields()
    progress: bool = True


_WORD = re.compile(r"[A-Za-z][A-Za-z-]{2,}")
_STOP = frozenset("the and for with that this from are was were has have had not but its their there which when than then into "
                  "been also such these those after before over under about more most other some only can may will".split())


def content_words(text: str) -> set[str]:
    return {w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in _STOP}


def content_overlap(source: str, output: str) -> float:
    """Share of the source's content words that the output keeps (1.0 for a source with none)."""
    src = content_words(source)
    return len(src & content_words(output)) / len(src) if src else 1.0


def _cos_to_centroid(x: np.ndarray, ref: np.ndarray) -> float:
    c = ref.mean(0)
    c = c / max(float(np.linalg.norm(c)), 1e-12)
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return float((xn @ c).mean())


def augmentation_report(original_path: str | Path, augmented_path: str | Path, out_dir: str | Path, opts: ReportOptions = ReportOptions(),
                        *, overwrite: bool = False) -> dict:
    from sklearn.linear_model import LogisticRegression

    from prefit.jsonl import write_json_atomic
    from prefit.model.embeddings import embedding_spec, encode

    out = Path(out_dir)
    if (out / "report.json").exists() and not overwrite:
        raise InputError("a report is already there; pass `overwrite=True` to replace it", file=out)
    try:  # before any embedding is computed: a folder that cannot be written fails now, not after minutes
        out.mkdir(parents=True, exist_ok=True)
        probe_file = out / f".write-test-{os.getpid()}"
        probe_file.write_bytes(b"")
        probe_file.unlink()
    except OSError as e:
        raise InputError(f"cannot write the report here ({e.strerror or e})", file=out) from e
    originals = read_records(original_path, opts.fields)
    by_id = {r.id: r for r in originals}
    rng = random.Random(opts.seed)
    aug_all = [r for r in read_records(augmented_path, opts.fields) if r.data.get("augmenter", "") != "original" and r.id not in by_id]
    if not aug_all:
        raise InputError("no augmented records (every record is an original)", file=augmented_path)
    labels = sorted({r.label for r in originals})
    if len(labels) < 2:
        raise InputError(f"the originals hold {len(labels)} class; label preservation needs at least 2", file=original_path,
                         field=opts.fields.label)
    unknown = next((r for r in aug_all if r.label not in labels), None)
    if unknown is not None:
        raise InputError(f"label {unknown.label!r} does not occur in {original_path}", file=augmented_path, line=unknown.line, field="label")
    aug = []
    for lab in labels:
        rows = [r for r in aug_all if r.label == lab]
        aug += rng.sample(rows, min(len(rows), opts.max_augmented_per_class))
    sources = [by_id.get(str(r.data.get("source_id", ""))) for r in aug]

    spec = embedding_spec(opts.model, "auto", opts.max_length)
    x_orig = encode([r.text for r in originals], spec, progress=opts.progress)
    x_aug = encode([r.text for r in aug], spec, progress=opts.progress)
    orig_index = {r.id: i for i, r in enumerate(originals)}
    y_orig = np.array([labels.index(r.label) for r in originals])
    y_aug = np.array([labels.index(r.label) for r in aug])

    # Cross-fitted: an augmented text is judged by a probe that never saw its own source, so that
    # a near-copy of a training text cannot pass for a preserved label.
    folds = int(min(5, np.bincount(y_orig).min()))
    aug_pred = np.full(len(aug), -1)
    orig_pred = None
    src_idx = np.array([orig_index[s.id] if s is not None else -1 for s in sources])
    if folds >= 2:
        from sklearn.model_selection import StratifiedKFold

        orig_pred = np.zeros(len(originals), dtype=int)
        for tr, te in StratifiedKFold(n_splits=folds, shuffle=True, random_state=opts.seed).split(x_orig, y_orig):
            clf = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=opts.seed).fit(x_orig[tr], y_orig[tr])
            orig_pred[te] = clf.predict(x_orig[te])
            mine = np.isin(src_idx, te)
            if mine.any():
                aug_pred[mine] = clf.predict(x_aug[mine])
    rest = aug_pred < 0  # no known source (or too few originals for folds): the probe on every original
    if rest.any():
        aug_pred[rest] = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=opts.seed).fit(x_orig, y_orig).predict(
            x_aug[rest])

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)

    src_sim = np.full(len(aug), np.nan)
    for i, s in enumerate(sources):
        if s is not None:
            src_sim[i] = float(unit(x_aug[i]) @ unit(x_orig[orig_index[s.id]]))

    classes = {}
    for k, lab in enumerate(labels):
        oi = [i for i in range(len(originals)) if y_orig[i] == k]
        ai = [i for i in range(len(aug)) if y_aug[i] == k]
        row = {"originals": len(oi), "augmented": sum(r.label == lab for r in aug_all), "augmented_sampled": len(ai)}
        if ai and len(oi) >= 2:
            shuffled = oi[:]
            random.Random(opts.seed + k).shuffle(shuffled)
            half = len(shuffled) // 2
            ref, held = shuffled[:half], shuffled[half:]
            o = _cos_to_centroid(x_orig[ref], x_orig[held])
            a = _cos_to_centroid(x_aug[ai], x_orig[held])
            row.update(augmented_to_heldout=a, originals_to_heldout=o, closeness_ratio=a / o if o else None)
        if ai:
            row["label_preserved"] = float((aug_pred[ai] == k).mean())
            sims = src_sim[ai][~np.isnan(src_sim[ai])]
            row["with_source"] = int(len(sims))
            row["near_copies"] = float((sims >= opts.near_copy).mean()) if len(sims) else None
            row["similarity_to_source"] = float(sims.mean()) if len(sims) else None
        if orig_pred is not None:
            row["originals_cv_preserved"] = float((orig_pred[oi] == k).mean())
        classes[lab] = row
    valid = ~np.isnan(src_sim)
    pairs = [(by_id[str(r.data.get("source_id"))].text, r.text) for r in aug_all if str(r.data.get("source_id", "")) in by_id]
    overlap = np.array([content_overlap(a, b) for a, b in pairs]) if pairs else np.array([])
    per_source: dict[str, set[str]] = {}
    for r in aug_all:
        per_source.setdefault(str(r.data.get("source_id", r.id)), set()).add(" ".join(r.text.split()).lower())
    counts = np.array([len(v) for v in per_source.values()])
    overall = {"token_overlap": {k: float(np.quantile(overlap, q)) for k, q in (("p25", 0.25), ("median", 0.5), ("p75", 0.75))}
               | {"mean": float(overlap.mean()), "identical_to_source": float(np.mean([" ".join(a.split()) == " ".join(b.split())
                                                                                        for a, b in pairs]))} if len(overlap) else None,
               "distinct_per_source": {"sources": len(counts), "mean": float(counts.mean()), "max": int(counts.max())},
               "label_preserved": float((aug_pred == y_aug).mean()),
               "originals_cv_preserved": float((orig_pred == y_orig).mean()) if orig_pred is not None else None,
               "near_copies": float((src_sim[valid] >= opts.near_copy).mean()) if valid.any() else None,
               "with_source": int(valid.sum())}
    _projection(x_orig, y_orig, x_aug, y_aug, labels, out / "projection.png", opts.seed)
    report = {"original": str(original_path), "augmented": str(augmented_path), "embedding": asdict(spec),
              "options": {k: v for k, v in asdict(opts).items() if k not in ("fields", "progress")}, "overall": overall, "classes": classes}
    write_json_atomic(out / "report.json", report)
    return report


def _projection(x_orig, y_orig, x_aug, y_aug, labels, path: Path, seed: int, max_points: int = 3000) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    from prefit.jsonl import atomic_write

    rng = np.random.default_rng(seed)
    io = rng.permutation(len(x_orig))[: max_points // 2]
    ia = rng.permutation(len(x_aug))[: max_points - len(io)]
    x = np.vstack([x_orig[io], x_aug[ia]])
    xy = TSNE(n_components=2, perplexity=min(30.0, max(2.0, (len(x) - 1) / 3)), init="pca", random_state=seed).fit_transform(x)
    n = len(io)
    fig, ax = plt.subplots(figsize=(8, 7))
    cmap = plt.get_cmap("tab20")
    for k, lab in enumerate(labels):
        color = cmap(k % 20)
        mo, ma = y_orig[io] == k, y_aug[ia] == k
        ax.scatter(xy[:n][mo, 0], xy[:n][mo, 1], s=9, color=color, marker="o", label=lab)
        ax.scatter(xy[n:][ma, 0], xy[n:][ma, 1], s=14, color=color, marker="x", linewidths=0.8)
    ax.set_title("t-SNE of sentence embeddings: originals (dots), augmented (crosses)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
