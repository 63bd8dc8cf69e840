"""ADME paragraphs of DailyMed labels, drugs held out: prefit against the peers a user would try first.

corpus (../shared/data/spl-corpus/dailymed-rx-dev.zip, 713 real prescription labels) ->
`score --extract-only` (PK paragraphs, label from the ADME heading; none where no heading names a
topic) -> `train split` (de-duplicate by normalised text, unlabelled texts left out; generic drug
names normalised; 20% of the drugs held out, seed 0) ->
`aug eda --balance max` on the training side -> `train compare` per method, hyper-parameters
chosen on a validation split grouped by drug (`--group-field group`), then --seeds on the whole
training side, evaluated on the held-out drugs. Plus grouped 5-fold cross-validation over all
distinct paragraphs (GroupKFold by drug; one seed per fold, the values chosen above), as the
paper's ADME experiment did.

Results on the labels of earlier parsers are kept in bench/results/adme_v1/ and adme_v2/ (not
comparable: other labels, and for v2 other held-out drugs).
Runs record the SHA-256 of their data files, so a rebuilt split is never matched to old runs.

Resumable across sessions like bench/quality.py: finished runs' metrics.json/config.json go to
bench/results/adme_runs/ as soon as they end and are restored into the work folder next time.
Writes bench/results/adme.json: summary[method][metric] = {"mean", "sem"} (micro_f1, macro_f1,
non_majority_micro_f1, minority_mean_f1, per_class_f1), "always-other" for scale, the chosen
values, the class counts, and cv.summary of the same shape over the folds, with cv.per_fold and
cv.paired: per fold, each transformer method's score minus each peer's (and vanilla's) on the
same test drugs — mean ± SEM over folds and the folds won, since folds differ in difficulty far
more than methods do.

    python bench/adme.py [--seeds 7,42,106] [--methods ...] [--folds 5] [--budget-minutes M]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    RESULTS,
    SHARED,
    add_compare_args,
    count_labels,
    grouped_folds,
    machine,
    markdown,
    sh,
    sync_runs,
    tabulate,
    write_result,
)

# two-stage+cb is `train two-stage` with its defaults (class-balanced weights); two-stage+ce the paper's unweighted loss.
METHODS = "tfidf-lr,probe,two-stage+cb,two-stage+ce,vanilla"
# lr 3e-5 was never chosen for any method on the grouped validation split of the v1 labels
# (bench/results/adme_v1), so the grid keeps the two values that were.
SELECT = ["lr=1e-4,3e-4", "c=1,10"]


def prepare(work: Path, bindir: Path, seed: int) -> None:
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "paras.jsonl").exists():
        sh(work, str(bindir / "score"), str(SHARED / "spl-corpus" / "dailymed-rx-dev.zip"), "--extract-only", "-o", "paras.jsonl", "-q")
    if not (work / "split" / "split.json").exists():
        sh(work, str(bindir / "train"), "split", "paras.jsonl", "-o", "split", "--group-field", "generic_names", "--group-normalise", "drug",
           "--test-fraction", "0.2", "--seed", str(seed))
    if not (work / "split" / "augmented.jsonl").exists():
        sh(work / "split", str(bindir / "aug"), "eda", "train.jsonl", "-o", "augmented.jsonl", "--balance", "max", "-q")


def always_other(test: Path) -> dict:
    """The score of answering "Other" for every paragraph: the floor every method must clear."""
    rows = [json.loads(x) for x in test.read_text().splitlines()]
    n, other = len(rows), sum(r["label"] == "Other" for r in rows)
    labels = sorted({r["label"] for r in rows})
    f1_other = 2 * other / (other + n)
    return {"micro_f1": other / n, "macro_f1": f1_other / len(labels), "non_majority_micro_f1": 0.0,
            "per_class_f1": {lab: (f1_other if lab == "Other" else 0.0) for lab in labels}}


def make_folds(work: Path, bindir: Path, folds: int) -> list[Path]:
    """Grouped K-fold over every distinct paragraph (both sides of the split), by drug group."""

    return grouped_folds(work, work / "cv", folds, bindir)


def main() -> None:
    from prefit.stages.train.compare import plot_per_class

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_compare_args(ap, METHODS, SELECT, 256, str(RESULTS / "adme_work"))
    ap.add_argument("--folds", type=int, default=5, help="Grouped cross-validation folds (0: none).")
    ap.add_argument("--split-seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    bindir = Path(sys.executable).parent
    work, store = Path(args.work), RESULTS / "adme_runs"
    methods, seeds = args.methods.split(","), args.seeds.split(",")
    prepare(work, bindir, args.split_seed)
    print(f"restored {sync_runs(work / 'compare', store / 'heldout', 'restore')} finished run(s)")

    def out_of_time() -> bool:
        return args.budget_minutes is not None and time.perf_counter() - t0 > args.budget_minutes * 60

    select = [x for s in (args.select or SELECT) for x in ("--select", s)]
    common = ["--train", "split/train.jsonl", "--augmented", "split/augmented.jsonl", "--eval", "split/test.jsonl", "--max-length",
              str(args.max_length), "--group-field", "group", *select, "-o", "compare", "-q"]
    for k in range(1, 0 if args.tabulate_only else len(seeds) + 1):
        for method in methods:
            if out_of_time():
                break
            sh(work, str(bindir / "train"), "compare", "--methods", method, "--seeds", ",".join(seeds[:k]), *common)
            sync_runs(work / "compare", store / "heldout", "save")
    table = tabulate(store / "heldout", methods, seeds)
    if not table["summary"]:
        print("no run finished yet")
        return
    print(markdown(table["summary"], table["selection"]))
    plot_per_class(table["runs"], RESULTS / "adme_per_class_f1.png")
    payload = {"args": vars(args), "machine": machine(), "wall_seconds_this_invocation": time.perf_counter() - t0,
               "split": json.loads((work / "split" / "split.json").read_text()) | {"groups_per_split": None},
               "test_groups": json.loads((work / "split" / "split.json").read_text())["groups_per_split"]["test"],
               "train_counts": count_labels(work / "split" / "train.jsonl"), "test_counts": count_labels(work / "split" / "test.jsonl"),
               "augmented_counts": count_labels(work / "split" / "augmented.jsonl"), "always-other": always_other(work / "split" / "test.jsonl"),
               **table, "paper": {"setting": "DailyMed ADME paragraphs, BERT-base, 5-fold CV", "micro_f1": {"vanilla": 0.8936, "two-stage": 0.9054}}}
    if args.folds:
        from prefit.stages.train.cv import paired
        from prefit.stages.train.metrics import mean_sem

        cv: dict[str, list[dict]] = {}
        for d in make_folds(work, bindir, args.folds):
            sync_runs(d / "compare", store / "cv" / d.name, "restore")
            for method in [m for m in methods if m in table["selection"]]:
                best = table["selection"][method]["best"]  # a run tag such as "lr-0.0001" or "c-10"
                flags = [x for part in best.split("_") if part != "default"
                         for x in ({"lr": "--lr", "c": "--peer-c", "epochs": "--epochs"}[part.rsplit("-", 1)[0]], part.rsplit("-", 1)[1])]
                if not (d / "compare" / method / f"seed-{seeds[0]}" / "metrics.json").exists():
                    if out_of_time() or args.tabulate_only:
                        continue
                    sh(d, str(bindir / "train"), "compare", "--methods", method, "--seeds", seeds[0], "--train", "train.jsonl", "--augmented",
                       "augmented.jsonl", "--eval", "test.jsonl", "--max-length", str(args.max_length), *flags, "-o", "compare", "-q")
                    sync_runs(d / "compare", store / "cv" / d.name, "save")
                m_path = d / "compare" / method / f"seed-{seeds[0]}" / "metrics.json"
                if m_path.exists():
                    cv.setdefault(method, []).append(json.loads(m_path.read_text()))
        full = {m: v for m, v in cv.items() if len(v) == args.folds}
        keys = ("micro_f1", "macro_f1", "non_majority_micro_f1", "minority_mean_f1")
        payload["cv"] = {"folds": args.folds, "complete": sorted(full), "summary": {
            m: {key: dict(zip(("mean", "sem"), mean_sem([r[key] for r in v]))) for key in keys}
            | {"per_class_f1": {lab: dict(zip(("mean", "sem"), mean_sem([r["per_class"][lab]["f1"] for r in v]))) for lab in v[0]["per_class"]}}
            for m, v in full.items()},
            "per_fold": {m: [{"n": r["n"], **{key: r[key] for key in keys}} for r in v] for m, v in full.items()},
            # Folds differ far more in difficulty than methods do, so the fold-to-fold SEM above hides who wins:
            # the paired difference per fold (method minus peer or vanilla, same test drugs) is the comparison.
            "paired": {m: {p: paired(full[m], full[p]) for p in (*PEERS_HERE, "vanilla") if p in full and p != m}
                       for m in full if m not in PEERS_HERE}}
        print("\ngrouped CV, paired difference per fold (method - peer): mean ± SEM, folds won")
        for m, vs in payload["cv"]["paired"].items():
            for p, r in vs.items():
                print(f"  {m} - {p}: " + ", ".join(f"{k} {r[k]['mean']:+.4f} ± {r[k]['sem']:.4f} ({r[k]['wins']}/{args.folds})" for k in keys[:3]))
    write_result("adme", payload)


PEERS_HERE = ("tfidf-lr", "probe")


if __name__ == "__main__":
    main()
