"""Grouped K-fold cross-validation of several methods: `train compare --folds K --group-field F`.

Every group (a drug, say) is tested exactly once (scikit-learn's GroupKFold); each fold runs
`compare` (compare.py) on its training side — selection with `--select` is carved from that side
only, grouped by the same field — and evaluates on its test side. Augmented records derived from a
fold's test records (their `source_id`) are left out of that fold's augmented set. The result is
per-fold metrics, mean ± SEM over folds, and the paired per-fold difference of every method
against every other (mean ± SEM and folds won): folds differ in difficulty far more than methods
do, so the paired difference is the comparison.

OUT/fold-K/{train,test,augmented}.jsonl and OUT/fold-K/compare/ (runs reused on a re-run);
OUT/cv.json; OUT/cv.md.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from prefit.errors import InputError
from prefit.jsonl import atomic_write, read_records, write_json_atomic, write_jsonl_atomic
from prefit.stages.train.compare import compare
from prefit.stages.train.metrics import mean_sem

log = logging.getLogger("prefit")

KEYS = ("micro_f1", "macro_f1", "non_majority_micro_f1", "minority_mean_f1")


def make_folds(train: str, augmented: str | None, out_dir: Path, fields, *, folds: int, group_field: str) -> list[dict]:
    """Write OUT/fold-K/{train,test,augmented}.jsonl; returns their paths per fold."""
    from sklearn.model_selection import GroupKFold

    from prefit.stages.train.split import group_value

    records = read_records(train, fields)
    missing = next((r for r in records if group_field not in r.data), None)
    if missing is not None:
        raise InputError("missing (needed by group_field)", file=train, line=missing.line, field=group_field)
    groups = [group_value(r.data[group_field], train, r.line, group_field) for r in records]
    if len(set(groups)) < folds:
        raise InputError(f"{len(set(groups))} groups cannot fill {folds} folds; use fewer folds", file=train, field=group_field)
    aug = read_records(augmented, fields) if augmented else None
    out = []
    splits = list(GroupKFold(n_splits=folds).split(records, groups=groups))
    for k, (tr, te) in enumerate(splits):  # before writing any fold: a label no training side holds fails that fold's run
        unseen = sorted({records[i].label for i in te} - {records[i].label for i in tr})
        if unseen:
            gs = sorted({groups[i] for i in te if records[i].label == unseen[0]})
            raise InputError(f"label {unseen[0]!r} occurs only in group(s) {', '.join(map(repr, gs[:5]))}, all in fold {k + 1} of "
                             f"{folds}: its training side would never see it; grouped cross-validation needs every label in "
                             "groups of at least 2 folds (merge or drop it, or use fewer folds)", file=train, field=group_field)
    for k, (tr, te) in enumerate(splits):
        d = out_dir / f"fold-{k}"
        d.mkdir(parents=True, exist_ok=True)
        write_jsonl_atomic(d / "train.jsonl", (records[i].data for i in tr))
        write_jsonl_atomic(d / "test.jsonl", (records[i].data for i in te))
        paths = {"train": str(d / "train.jsonl"), "eval": str(d / "test.jsonl"), "augmented": None}
        if aug is not None:
            held = {records[i].id for i in te}
            write_jsonl_atomic(d / "augmented.jsonl", (r.data for r in aug if str(r.data.get("source_id", r.id)) not in held
                                                       and r.id not in held))
            paths["augmented"] = str(d / "augmented.jsonl")
        out.append(paths)
    return out


def paired(a: list[dict], b: list[dict]) -> dict:
    out = {}
    for key in KEYS:
        diffs = [x[key] - y[key] for x, y in zip(a, b)]
        mean, sem = mean_sem(diffs)
        out[key] = {"mean": mean, "sem": sem, "wins": sum(d > 0 for d in diffs), "diffs": diffs}
    return out


def compare_cv(base, methods: list[str], seed: int, out_dir: str | Path, *, folds: int, group_field: str, **compare_kw) -> dict:
    """Grouped K-fold CV of `methods` (one seed per fold); writes OUT/cv.json and OUT/cv.md."""
    out_dir = Path(out_dir)
    per_fold: dict[str, list[dict]] = {m: [] for m in methods}
    for k, paths in enumerate(make_folds(base.train, base.augmented, out_dir, base.fields, folds=folds, group_field=group_field)):
        log.info("fold %d/%d", k + 1, folds)
        table = compare(replace(base, **paths), methods, [seed], out_dir / f"fold-{k}" / "compare", group_field=group_field, **compare_kw)
        for m in methods:
            per_fold[m].append({key: table[m][key]["mean"] for key in KEYS})
    summary = {m: {key: dict(zip(("mean", "sem"), mean_sem([r[key] for r in v]))) for key in KEYS} for m, v in per_fold.items()}
    pairs = {a: {b: paired(per_fold[a], per_fold[b]) for b in methods if b != a} for a in methods}
    result = {"folds": folds, "group_field": group_field, "seed": seed, "methods": methods, "summary": summary, "paired": pairs,
              "per_fold": per_fold}
    write_json_atomic(out_dir / "cv.json", result)
    with atomic_write(out_dir / "cv.md") as fh:
        fh.write(markdown(result))
    return result


def markdown(result: dict) -> str:
    folds, methods = result["folds"], result["methods"]
    lines = [f"Grouped {folds}-fold cross-validation by {result['group_field']}, seed {result['seed']}: mean ± SEM over folds.", "",
             "| method | micro-F1 | macro-F1 | non-majority micro-F1 |", "|---|---|---|---|"]
    for m in methods:
        s = result["summary"][m]
        lines.append(f"| {m} | " + " | ".join(f"{s[k]['mean']:.4f} ± {s[k]['sem']:.4f}" for k in KEYS[:3]) + " |")
    lines += ["", "Paired per fold, row minus column, micro-F1: mean ± SEM (folds won).", "",
              "| method | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for a in methods:
        cells = ["" if a == b else (lambda p: f"{p['mean']:+.4f} ± {p['sem']:.4f} ({p['wins']}/{folds})")(result["paired"][a][b]["micro_f1"])
                 for b in methods]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
