"""ADME paragraphs, grouped cross-validation by drug: every method with the defaults a user gets.

corpus (../shared/data/spl-corpus/dailymed-rx-dev.zip, 713 real prescription labels) ->
`score --extract-only` (labels by heading class, docs/spl.md) -> `train split` (distinct texts,
unlabelled left out, generic names normalised to drug groups) -> GroupKFold over all distinct
labelled paragraphs by drug group (every group tested once) -> per fold `aug eda --balance max`
on the training side and `train compare --methods M --seeds 7` with no selection: the defaults.

Ensembles are computed from the runs' stored evaluation probabilities (metrics.json
`eval_proba`), with fixed equal weights declared here before any fold was scored:
  ens:two-stage+probe+tfidf-lr   mean of the three methods' probabilities
  ens:probe+tfidf-lr             mean of the two cheap peers'

WiSE-FT (`train two-stage --wise-alpha A`, train/wise.py), alpha chosen per fold on validation
only: two-stage is trained on the fold's training side minus a grouped validation split (20% of
its drug groups, seed 0) and alpha in {0.25, 0.5, 0.75, 1} is chosen by validation macro-F1 (ties:
the larger alpha); the row "two-stage+wise-ft" is then the fold's two-stage run (every run reports
each alpha of the grid: same seed, same training) read at that alpha.

Ensemble with a weight chosen per fold on validation only ("ens:two-stage+tfidf-lr, w on val"):
p = w * two-stage + (1 - w) * tfidf-lr, w in {0, 0.25, 0.5, 0.75, 1} chosen by validation
macro-F1 (ties: the larger w) from the same inner runs (tfidf-lr is also trained on the inner
split), then applied to the fold's test probabilities.

The built-in labeller's recipe ("two-stage --tfidf-weight W*"): one fixed weight for every fold,
W* = the median over folds of the TF-IDF weight (1 - w) each fold chose on its validation split,
capped at 0.75 (the product blends, it does not replace the transformer); its per-fold scores
are the blend of the fold's stored test probabilities, as `score` computes it.

Resumable: finished runs' metrics.json/config.json go to bench/results/adme_cv_runs/ as they end.
Writes bench/results/adme_cv.json: cv.summary[method][metric] = {mean, sem}, cv.per_fold and
cv.paired (per fold, method minus method on the same test drugs: mean ± SEM and folds won).

    python bench/adme_cv.py [--folds 8] [--methods tfidf-lr,probe,two-stage,vanilla] [--budget-minutes M]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED, grouped_folds, machine, sh, sync_runs, write_result  # noqa: E402

METHODS = "tfidf-lr,probe,two-stage,vanilla"
ENSEMBLES = {"ens:two-stage+probe+tfidf-lr": ("two-stage", "probe", "tfidf-lr"), "ens:probe+tfidf-lr": ("probe", "tfidf-lr")}
KEYS = ("micro_f1", "macro_f1", "non_majority_micro_f1", "minority_mean_f1")
WISE = "two-stage+wise-ft"
ENS_VAL = "ens:two-stage+tfidf-lr, w on val"
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SELECT_METRIC = "macro_f1"
SEED = "7"


def prepare(work: Path, bindir: Path, folds: int) -> list[Path]:
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "paras.jsonl").exists():
        sh(work, str(bindir / "score"), str(SHARED / "spl-corpus" / "dailymed-rx-dev.zip"), "--extract-only", "-o", "paras.jsonl", "-q")
    if not (work / "split" / "split.json").exists():
        sh(work, str(bindir / "train"), "split", "paras.jsonl", "-o", "split", "--group-field", "generic_names", "--group-normalise", "drug",
           "--test-fraction", "0.2", "--seed", "0")
    return grouped_folds(work, work / f"folds-{folds}", folds, bindir)


def choose_alpha(d: Path, bindir: Path, store: Path, trainable: bool) -> float | None:
    """alpha of the best validation macro-F1 of two-stage trained on the fold's training side less
    a grouped validation split (inner/), or None before that run has finished."""
    from prefit.jsonl import Fields
    from prefit.stages.train.select import carve_validation

    inner = d / "inner"
    if not (inner / "val.jsonl").exists():
        carve_validation(str(d / "train.jsonl"), str(d / "augmented.jsonl"), inner, Fields(), fraction=0.2, seed=0, group_field="group")
    path = inner / "compare" / "two-stage" / f"seed-{SEED}" / "metrics.json"
    sync_runs(inner / "compare", store / d.name / "inner", "restore")
    if not path.exists() and trainable:
        sh(inner, str(bindir / "train"), "compare", "--methods", "two-stage", "--seeds", SEED, "--train", "train.jsonl", "--augmented",
           "augmented.jsonl", "--eval", "val.jsonl", "-o", "compare", "-q")
        sync_runs(inner / "compare", store / d.name / "inner", "save")
    peer = inner / "compare" / "tfidf-lr" / f"seed-{SEED}" / "metrics.json"
    if not peer.exists() and trainable:
        sh(inner, str(bindir / "train"), "compare", "--methods", "tfidf-lr", "--seeds", SEED, "--train", "train.jsonl",
           "--eval", "val.jsonl", "-o", "compare", "-q")
        sync_runs(inner / "compare", store / d.name / "inner", "save")
    if not path.exists():
        return None
    wise = json.loads(path.read_text())["wise"]
    return max(sorted(map(float, wise), reverse=True), key=lambda a: wise[str(a)][SELECT_METRIC])


def _proba(run: dict):
    import numpy as np

    return np.asarray(run["readings"][run["read"]]["eval_proba"] if "readings" in run else run["eval_proba"])


def weighted(a: dict, b: dict, w: float, y: list[int]) -> dict:
    from prefit.stages.train.metrics import classification_metrics

    labels = list(a["per_class"])
    counts = [a["per_class"][lab]["train_count"] for lab in labels]
    return classification_metrics(y, (w * _proba(a) + (1 - w) * _proba(b)).argmax(-1).tolist(), labels, counts)


def gold(path: Path, labels: list[str]) -> list[int]:
    return [labels.index(json.loads(x)["label"]) for x in path.read_text().splitlines()]


def choose_weight(d: Path) -> float | None:
    """w of the best validation macro-F1 of w * two-stage + (1 - w) * tfidf-lr on the inner split."""
    inner = d / "inner" / "compare"
    paths = [inner / m / f"seed-{SEED}" / "metrics.json" for m in ("two-stage", "tfidf-lr")]
    if not all(p.exists() for p in paths):
        return None
    a, b = (json.loads(p.read_text()) for p in paths)
    y = gold(d / "inner" / "val.jsonl", list(a["per_class"]))
    return max(sorted(WEIGHTS, reverse=True), key=lambda w: weighted(a, b, w, y)[SELECT_METRIC])


def ensemble(fold: Path, runs: dict[str, dict], members: tuple[str, ...]) -> dict | None:
    """Metrics of the mean of the members' evaluation probabilities (equal weights)."""
    import numpy as np

    from prefit.stages.train.metrics import classification_metrics

    probas = []
    for m in members:
        r = runs.get(m)
        if r is None:
            return None
        p = r["readings"][r["read"]]["eval_proba"] if "readings" in r else r.get("eval_proba")
        if p is None:
            return None
        probas.append(np.asarray(p))
    labels = list(runs[members[0]]["per_class"])
    counts = [runs[members[0]]["per_class"][lab]["train_count"] for lab in labels]
    y = [labels.index(json.loads(x)["label"]) for x in (fold / "test.jsonl").read_text().splitlines()]
    return classification_metrics(y, np.mean(probas, axis=0).argmax(-1).tolist(), labels, counts)


def main() -> None:
    from prefit.stages.train.cv import paired as pair
    from prefit.stages.train.metrics import mean_sem

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", type=int, default=8)
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--only-folds", default=None, help="Comma-separated fold numbers to train (to split the work over processes).")
    ap.add_argument("--budget-minutes", type=float, default=None, help="Start no new run after this long.")
    ap.add_argument("--work", default=str(RESULTS / "adme_cv_work"))
    ap.add_argument("--tabulate-only", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    bindir = Path(sys.executable).parent
    work, store = Path(args.work), RESULTS / "adme_cv_runs" / f"folds-{args.folds}"
    methods = args.methods.split(",")
    folds = prepare(work, bindir, args.folds)
    only = {int(x) for x in args.only_folds.split(",")} if args.only_folds else None
    per_fold: dict[str, list[dict | None]] = {m: [None] * len(folds) for m in [*methods, WISE, *ENSEMBLES, ENS_VAL]}
    alphas: list[float | None] = [None] * len(folds)
    weights: list[float | None] = [None] * len(folds)
    for k, d in enumerate(folds):
        sync_runs(d / "compare", store / d.name, "restore")
        runs = {}
        trainable = not args.tabulate_only and (only is None or k in only) and not (
            args.budget_minutes and time.perf_counter() - t0 > args.budget_minutes * 60)
        for m in methods:
            path = d / "compare" / m / f"seed-{SEED}" / "metrics.json"
            if not path.exists() and trainable:
                sh(d, str(bindir / "train"), "compare", "--methods", m, "--seeds", SEED, "--train", "train.jsonl", "--augmented",
                   "augmented.jsonl", "--eval", "test.jsonl", "-o", "compare", "-q")
                sync_runs(d / "compare", store / d.name, "save")
            if path.exists():
                runs[m] = json.loads(path.read_text())
                per_fold[m][k] = runs[m]
        if "two-stage" in methods:
            alphas[k] = choose_alpha(d, bindir, store, trainable)
            if alphas[k] is not None and "two-stage" in runs:
                per_fold[WISE][k] = {"n": runs["two-stage"]["n"], "seconds": runs["two-stage"].get("seconds"),
                                     **runs["two-stage"]["wise"][str(alphas[k])]}
        for name, members in ENSEMBLES.items():
            per_fold[name][k] = ensemble(d, runs, members)
        weights[k] = choose_weight(d) if "two-stage" in methods else None
        if weights[k] is not None and {"two-stage", "tfidf-lr"} <= set(runs):
            per_fold[ENS_VAL][k] = weighted(runs["two-stage"], runs["tfidf-lr"], weights[k],
                                            gold(d / "test.jsonl", list(runs["two-stage"]["per_class"])))
    fixed = None
    if all(w is not None for w in weights):
        import statistics

        fixed = min(0.75, statistics.median(1 - w for w in weights))
        name = f"two-stage --tfidf-weight {fixed:g}"
        per_fold[name] = []
        for d in folds:
            runs = {m: json.loads((d / "compare" / m / f"seed-{SEED}" / "metrics.json").read_text()) for m in ("two-stage", "tfidf-lr")}
            per_fold[name].append(weighted(runs["two-stage"], runs["tfidf-lr"], 1 - fixed,
                                           gold(d / "test.jsonl", list(runs["two-stage"]["per_class"]))))
    full = {m: v for m, v in per_fold.items() if all(x is not None for x in v)}
    summary = {m: {key: dict(zip(("mean", "sem"), mean_sem([r[key] for r in v]))) for key in KEYS} for m, v in full.items()}
    paired = {a: {b: pair(full[a], full[b]) for b in full if b != a} for a in full}
    folds_done = {m: sum(x is not None for x in v) for m, v in per_fold.items()}
    if full:
        print(markdown(summary, paired, len(folds)))
    print(f"folds finished per method: {folds_done}")
    for m, row in summary.items():
        print(f"{m:32s} " + "  ".join(f"{k} {row[k]['mean']:.4f} ± {row[k]['sem']:.4f}" for k in KEYS[:3]))
    write_result("adme_cv", {
        "args": vars(args), "machine": machine(), "wall_seconds_this_invocation": time.perf_counter() - t0,
        "settings": "every method with its defaults (train compare, no --select): max_length 128, lr 1e-4, seed 7; EDA --balance max",
        "ensembles": {k: list(v) for k, v in ENSEMBLES.items()}, "wise_alpha_chosen_per_fold": alphas,
        "ensemble_weight_chosen_per_fold": weights, "builtin_tfidf_weight": fixed, "split": json.loads((work / "split" / "split.json").read_text()),
        "cv": {"folds": args.folds, "folds_done": folds_done, "complete": sorted(full), "summary": summary, "paired": paired,
               "per_fold": {m: [None if r is None else {"n": r["n"], "seconds": r.get("seconds"), **{k: r[k] for k in KEYS}}
                                for r in v] for m, v in per_fold.items()}}})


def markdown(summary: dict, paired: dict, folds: int) -> str:
    """The summary table (mean ± SEM over folds) and each method's paired difference per fold
    against tfidf-lr, probe and vanilla (mean ± SEM, folds won), micro-F1 / non-majority micro-F1."""
    peers = [p for p in ("tfidf-lr", "probe", "vanilla") if p in summary]
    head = "| method | micro-F1 | non-majority micro-F1 | macro-F1 | " + " | ".join(f"− {p} (wins)" for p in peers) + " |"
    lines = [head, "|---|---|---|---|" + "---|" * len(peers)]
    for m in sorted(summary, key=lambda m: -summary[m]["micro_f1"]["mean"]):
        cells = [f"{summary[m][k]['mean']:.4f} ± {summary[m][k]['sem']:.4f}" for k in ("micro_f1", "non_majority_micro_f1", "macro_f1")]
        for p in peers:
            if p == m:
                cells.append("")
                continue
            a, b = paired[m][p]["micro_f1"], paired[m][p]["non_majority_micro_f1"]
            cells.append(f"{a['mean']:+.4f} ± {a['sem']:.4f} ({a['wins']}/{folds}) / {b['mean']:+.4f} ± {b['sem']:.4f} ({b['wins']}/{folds})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
