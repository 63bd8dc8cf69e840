"""Does real back-translation beat EDA for pre-finetuning? `train two-stage` with its defaults,
pre-finetuned on a Bergamot back-translated corpus vs on an EDA corpus, peers in the same table.

ADME, grouped by drug: the folds of bench/adme_cv.py (8-fold GroupKFold over every distinct
labelled paragraph, its work folder). Per fold, on the training side only:
  aug backtranslate train.jsonl --engine bergamot --pivot pt --variants 4 --balance max
(four variants per draw: Bergamot is deterministic, its variants are the four segmentation
strategies of augment/bergamot.py) then `train compare --methods two-stage --seeds 7` with no
selection. The EDA twin, tfidf-lr, probe and vanilla are the fold's adme_cv runs (same folds,
same seed, `aug eda --balance max`), so every difference is paired on the same test drugs.

Rows computed from the runs' stored test probabilities (metrics.json eval_proba), with settings
fixed before these runs: "--tfidf-weight 0.75" is the built-in labeller's blend (bench/adme_cv.py
chose it on inner validation splits with EDA), p = 0.25 * two-stage + 0.75 * tfidf-lr; "ens" is
the equal-weight mean of two-stage, probe and tfidf-lr (adme_cv.py's pre-declared ensemble).

20 Newsgroups, step protocol (--protocol step): bench/quality.py's data (its work folder,
quality_work/step: train.jsonl step-imbalanced at ratio 0.1, 100 test posts per class), the same
Bergamot command on train.jsonl, then `train compare --methods two-stage --seeds 7,42,106` at
quality.py's selected settings for two-stage+cb (lr 1e-4, the default, chosen on its validation
split; 128 tokens). The EDA twin is quality.py's two-stage+cb runs (quality_runs/step), the peers
its tfidf-lr, probe and vanilla runs.

Resumable: finished runs' metrics.json/run.json go to bench/results/bt_vs_eda_runs/ as they end;
the back-translation job itself resumes by chunks.
Writes bench/results/bt_vs_eda.json: summary[augmentation][metric] = {mean, sem} on the 20NG step
protocol (3 seeds), adme.summary/paired/per_fold (grouped CV) for every row, and the augmentation's
own report per fold.

    python bench/bt_vs_eda.py [--protocol adme|step|both] [--folds 8] [--budget-minutes M] [--tabulate-only]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, sh, sync_runs, write_result  # noqa: E402

SEED = "7"
KEYS = ("micro_f1", "macro_f1", "non_majority_micro_f1", "minority_mean_f1")
PEERS = ("tfidf-lr", "probe", "vanilla")
BT = ["--engine", "bergamot", "--pivot", "pt", "--variants", "4", "--balance", "max", "--threads", "1"]


def fold_runs(d: Path, store: Path, bindir: Path, trainable: bool) -> dict[str, dict]:
    """The fold's rows: two-stage on EDA and the peers (adme_cv's runs), two-stage on BT (here)."""
    out = {}
    for m in ("two-stage", *PEERS):
        p = d / "compare" / m / f"seed-{SEED}" / "metrics.json"
        if p.exists():
            out[m if m != "two-stage" else "two-stage, eda"] = json.loads(p.read_text())
    sync_runs(d / "compare-bt", store / d.name, "restore")
    path = d / "compare-bt" / "two-stage" / f"seed-{SEED}" / "metrics.json"
    if not path.exists() and trainable:
        if not (d / "augmented-bt.summary.json").exists():
            sh(d, str(bindir / "aug"), "backtranslate", "train.jsonl", "-o", "augmented-bt.jsonl", *BT, "-q")
        sh(d, str(bindir / "train"), "compare", "--methods", "two-stage", "--seeds", SEED, "--train", "train.jsonl", "--augmented",
           "augmented-bt.jsonl", "--eval", "test.jsonl", "-o", "compare-bt", "-q")
        (store / d.name).mkdir(parents=True, exist_ok=True)
        (store / d.name / "augmented-bt.summary.json").write_text((d / "augmented-bt.summary.json").read_text())
        sync_runs(d / "compare-bt", store / d.name, "save")
    if path.exists():
        out["two-stage, backtranslate"] = json.loads(path.read_text())
    return out


def _proba(run: dict):
    import numpy as np

    return np.asarray(run["readings"][run["read"]]["eval_proba"] if "readings" in run else run["eval_proba"])


def derived(d: Path, runs: dict[str, dict]) -> dict[str, dict]:
    """The blend and ensemble rows of the fold, from the runs' stored test probabilities."""
    from prefit.stages.train.metrics import classification_metrics

    out = {}
    if "tfidf-lr" not in runs:
        return out
    labels = list(runs["tfidf-lr"]["per_class"])
    counts = [runs["tfidf-lr"]["per_class"][lab]["train_count"] for lab in labels]
    y = [labels.index(json.loads(x)["label"]) for x in (d / "test.jsonl").read_text().splitlines()]
    for aug in ("backtranslate", "eda"):
        ts = runs.get(f"two-stage, {aug}")
        if ts is None:
            continue
        blend = 0.25 * _proba(ts) + 0.75 * _proba(runs["tfidf-lr"])
        out[f"two-stage, {aug} --tfidf-weight 0.75"] = {"n": ts["n"], **classification_metrics(y, blend.argmax(-1).tolist(), labels, counts)}
        if "probe" in runs:
            ens = (_proba(ts) + _proba(runs["probe"]) + _proba(runs["tfidf-lr"])) / 3
            out[f"ens: two-stage ({aug}) + probe + tfidf-lr"] = {"n": ts["n"], **classification_metrics(y, ens.argmax(-1).tolist(), labels, counts)}
    return out


STEP_SEEDS = ("7", "42", "106")


def step_protocol(bindir: Path, trainable: bool, budget_left) -> dict:
    """The 20NG step rows: two-stage on BT (trained here) and on EDA (quality.py's runs), peers."""
    from quality import make_data

    from prefit.stages.train.compare import aggregate

    work = RESULTS / "quality_work" / "step"
    store = RESULTS / "bt_vs_eda_runs" / "step"
    runs: dict[str, list[dict]] = {}
    if trainable:
        make_data(work, "step", 100, bindir)
        if not (work / "augmented-bt.summary.json").exists():
            sh(work, str(bindir / "aug"), "backtranslate", "train.jsonl", "-o", "augmented-bt.jsonl", *BT, "-q")
        sync_runs(work / "compare-bt", store, "restore")
        for k in range(1, len(STEP_SEEDS) + 1):
            if budget_left() <= 0:
                break
            sh(work, str(bindir / "train"), "compare", "--methods", "two-stage", "--seeds", ",".join(STEP_SEEDS[:k]), "--train", "train.jsonl",
               "--augmented", "augmented-bt.jsonl", "--eval", "test.jsonl", "--max-length", "128", "-o", "compare-bt", "-q")
            sync_runs(work / "compare-bt", store, "save")
        store.mkdir(parents=True, exist_ok=True)
        if (work / "augmented-bt.summary.json").exists():
            (store / "augmented-bt.summary.json").write_text((work / "augmented-bt.summary.json").read_text())
            for name, corpus in (("backtranslate", "augmented-bt.jsonl"), ("eda", "augmented.jsonl")):  # aug report of both corpora
                if not (store / f"report-{name}.json").exists():
                    sh(work, str(bindir / "aug"), "report", "train.jsonl", corpus, "-o", f"report-{name}", "--max-augmented-per-class", "100",
                       "--overwrite", "-q")
                    (store / f"report-{name}.json").write_text((work / f"report-{name}" / "report.json").read_text())
    from prefit.stages.train.run import metrics_for_reading

    quality = RESULTS / "quality_runs" / "step"
    windowed: dict[str, list[dict]] = {}
    for name, folder in (("two-stage, backtranslate", store / "two-stage"), ("two-stage, eda", quality / "two-stage+cb"),
                         *((p, quality / p) for p in PEERS)):
        found = [json.loads((folder / f"seed-{s}" / "metrics.json").read_text()) for s in STEP_SEEDS
                 if (folder / f"seed-{s}" / "metrics.json").exists()]
        if found:
            runs[name] = [{k: v for k, v in m.items() if k != "readings"} | m.get("readings", {}).get("first", {}) for m in found]
            read = [metrics_for_reading(m, "windows", 16) for m in found]
            if all(r is not None for r in read):
                windowed[name] = read
    reports = {name: json.loads((store / f"report-{name}.json").read_text())["overall"] for name in ("backtranslate", "eda")
               if (store / f"report-{name}.json").exists()}
    return {"summary": aggregate(runs) if runs else {}, "seeds": {k: len(v) for k, v in runs.items()},
            "reading": "first 128 tokens (quality.py's summary reading)", "aug_report": reports,
            "windows": {"summary": aggregate(windowed) if windowed else {}, "seeds": {k: len(v) for k, v in windowed.items()},
                        "reading": "every 128-token window, mean logits (train's default)"}}


def main() -> None:
    from prefit.stages.train.cv import paired as pair
    from prefit.stages.train.metrics import mean_sem

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--protocol", choices=["adme", "step", "both"], default="adme")
    ap.add_argument("--folds", type=int, default=8)
    ap.add_argument("--only-folds", default=None)
    ap.add_argument("--budget-minutes", type=float, default=None, help="Start no new fold after this long.")
    ap.add_argument("--work", default=str(RESULTS / "adme_cv_work"))
    ap.add_argument("--bin", default=None, help="Folder of the aug/train commands to run [default: beside this Python].")
    ap.add_argument("--tabulate-only", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    bindir = Path(args.bin) if args.bin else Path(sys.executable).parent
    folds = sorted((Path(args.work) / f"folds-{args.folds}").glob("fold-*"), key=lambda p: int(p.name.split("-")[1]))
    if len(folds) != args.folds:
        if args.protocol != "step":
            sys.exit(f"run bench/adme_cv.py --folds {args.folds} first: {len(folds)} fold folders under {args.work}")
        folds = []  # the step protocol alone: the ADME section stays as the last run wrote it
    store = RESULTS / "bt_vs_eda_runs" / "adme" / f"folds-{args.folds}"
    only = {int(x) for x in args.only_folds.split(",")} if args.only_folds else None
    rows = ("two-stage, backtranslate", "two-stage, eda", *PEERS, *(f"two-stage, {a} --tfidf-weight 0.75" for a in ("backtranslate", "eda")),
            *(f"ens: two-stage ({a}) + probe + tfidf-lr" for a in ("backtranslate", "eda")))
    per_fold: dict[str, list] = {m: [None] * len(folds) for m in rows}
    aug = [None] * len(folds)
    for k, d in enumerate(folds):
        trainable = not args.tabulate_only and (only is None or k in only) and not (
            args.budget_minutes and time.perf_counter() - t0 > args.budget_minutes * 60)
        runs = fold_runs(d, store, bindir, trainable)
        for m, r in (runs | derived(d, runs)).items():
            per_fold[m][k] = r
        s = store / d.name / "augmented-bt.summary.json"
        if s.exists():
            aug[k] = {c: v for c, v in json.loads(s.read_text())["classes"].items()}
    step = None
    if args.protocol in ("step", "both"):
        step = step_protocol(bindir, not args.tabulate_only,
                             lambda: (args.budget_minutes or 1e9) * 60 - (time.perf_counter() - t0))
    old = json.loads((RESULTS / "bt_vs_eda.json").read_text()) if (RESULTS / "bt_vs_eda.json").exists() else {}
    if step is None:
        step = old.get("step_20ng")
    full = {m: v for m, v in per_fold.items() if all(x is not None for x in v)}
    summary = {m: {key: dict(zip(("mean", "sem"), mean_sem([r[key] for r in v]))) for key in KEYS} for m, v in full.items()}
    paired = {a: {b: pair(full[a], full[b]) for b in full if b != a} for a in full}
    done = {m: sum(x is not None for x in v) for m, v in per_fold.items()}
    print(f"folds finished per row: {done}")
    for m, row in summary.items():
        print(f"{m:28s} " + "  ".join(f"{k} {row[k]['mean']:.4f} ± {row[k]['sem']:.4f}" for k in KEYS[:3]))
    step_summary = (step or {}).get("summary", {})
    by_aug = {a: step_summary[f"two-stage, {a}"] for a in ("backtranslate", "eda") if f"two-stage, {a}" in step_summary}
    write_result("bt_vs_eda", {
        "args": vars(args), "machine": machine(), "wall_seconds_this_invocation": time.perf_counter() - t0,
        "settings": "train two-stage defaults (max_length 128, lr 1e-4), seed 7, no selection; EDA: aug eda --balance max; "
                    "backtranslate: aug backtranslate " + " ".join(BT),
        "summary": by_aug,
        "protocols": {"adme_grouped_cv": "bench/adme_cv.py folds (GroupKFold by drug, 8 folds, every labelled paragraph)",
                      "20ng_step": "bench/quality.py step data, seeds 7, 42, 106, two-stage at lr 1e-4 (quality.py's choice)"},
        "step_20ng": step,
        "adme": old.get("adme") if not folds else {
            "folds": args.folds, "folds_done": done, "summary": summary, "paired": paired,
            "per_fold": {m: [None if r is None else {"n": r["n"], **{k: r[k] for k in KEYS}} for r in v] for m, v in per_fold.items()},
            "backtranslate_classes_per_fold": aug}})


if __name__ == "__main__":
    main()
