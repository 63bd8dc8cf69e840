"""Quality: the paper's 20 Newsgroups table, with the peers a user would try first, chosen fairly.

Protocols (--protocol step|longtail|both): 100 posts per class of ../shared/data/20newsgroups
held out as test (2,000; headers removed, whitespace collapsed, cut at 2,000 characters), the
rest made imbalanced with `aug imbalance --kind step|longtail --ratio 0.1 --seed 0`, balanced with
`aug eda --balance max`. Then `train compare --select ...` per method: every method picks its
learning rate (the peers their C) on a stratified validation split of the training file, then
trains --seeds on the whole training file and is evaluated on the test split. Selection never
reads the test split. To make the table fit in a few sessions, candidates are ranked on a shorter
proxy (`--select-epochs 1`: the last stage trained 1 epoch instead of 3); the methods whose full
selection ran in earlier sessions keep those runs, and the table shows where proxy and full
selection agree. `--select-epochs 0` selects with the full recipe.

Resumable across sessions: each finished run's metrics.json and config.json (a few KB, no
weights) are copied to bench/results/quality_runs/PROTOCOL/ as soon as the run ends; a later
invocation restores them into the work folder, where `train compare` reuses a run whose settings
match. A run killed mid-way (a session's end) resumes from its last finished epoch when the work
folder survives (`train`'s epoch checkpoint, too large to commit). Commit bench/results/ after a session. Runs go one method and one seed at a time, seeds in
the outer loop, so the table has every method for the first seed before it adds a second.
--budget-minutes stops starting new runs after that long.

Writes bench/results/quality.json (step) and quality_longtail.json:
summary[method][metric] = {"mean", "sem"} for micro_f1, macro_f1, non_majority_micro_f1,
minority_mean_f1 (and accuracy, per_class_f1), the chosen values, the runs, the machine. `summary`
reads each post's first 128 tokens (every run has that number); `windows.summary` has the same
shape for the runs that also recorded the windowed reading (`train`'s default since 2026-12-02:
every 128-token window of the post, mean logits), which selection then ranks by.

    python bench/quality.py --protocol step --seeds 7,42,106 --budget-minutes 150
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    RESULTS,
    add_compare_args,
    body,
    count_labels,
    machine,
    markdown,
    newsgroups,
    sh,
    sync_runs,
    tabulate,
    write_result,
)

# two-stage+cb is `train two-stage` with its defaults (class-balanced weights); two-stage+ce the paper's unweighted loss.
METHODS = "tfidf-lr,probe,vanilla,oversample,lpft,two-stage+ce,two-stage+cb,two-stage+ldam-drw"
SELECT = ["lr=3e-5,1e-4", "c=1,10"]
PAPER = {"setting": "20NG step rho=0.1, BERT-base", "non_majority_micro_f1": {"vanilla": 0.6433, "two-stage": 0.6781}}


def make_data(work: Path, protocol: str, test_per_class: int, bindir: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "test.jsonl").exists():
        rows = newsgroups()
        random.Random(0).shuffle(rows)
        by: dict[str, list[dict]] = {}
        for r in rows:
            text = " ".join(body(r["text"]).split())[:2000]
            if text.strip():
                by.setdefault(r["label"], []).append({"id": r["id"], "text": text, "label": r["label"]})
        for name, data in (("test", [r for v in by.values() for r in v[:test_per_class]]),
                           ("balanced", [r for v in by.values() for r in v[test_per_class:]])):
            with open(work / f"{name}.jsonl", "w") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in data)
    if not (work / "train.jsonl").exists():
        sh(work, str(bindir / "aug"), "imbalance", "balanced.jsonl", "-o", "train.jsonl", "--kind", protocol, "--ratio", "0.1", "--seed", "0")
    if not (work / "augmented.jsonl").exists():
        sh(work, str(bindir / "aug"), "eda", "train.jsonl", "-o", "augmented.jsonl", "--balance", "max", "-q")


def main() -> None:
    from prefit.stages.train.compare import plot_per_class

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--protocol", choices=["step", "longtail", "both"], default="step")
    add_compare_args(ap, METHODS, SELECT, 128, str(RESULTS / "quality_work"), select_epochs=1)
    ap.add_argument("--test-per-class", type=int, default=100)
    args = ap.parse_args()
    t0 = time.perf_counter()
    bindir = Path(sys.executable).parent
    methods, seeds = args.methods.split(","), args.seeds.split(",")
    select = [x for s in (args.select or SELECT) for x in ("--select", s)]
    for protocol in (["step", "longtail"] if args.protocol == "both" else [args.protocol]):
        work = Path(args.work) / protocol
        store = RESULTS / "quality_runs" / protocol
        make_data(work, protocol, args.test_per_class, bindir)
        print(f"restored {sync_runs(work / 'compare', store, 'restore')} finished run(s) from {store}")
        common = ["--train", "train.jsonl", "--augmented", "augmented.jsonl", "--eval", "test.jsonl", "--max-length", str(args.max_length),
                  *select, *(["--select-epochs", str(args.select_epochs)] if args.select_epochs else []), "-o", "compare", "-q"]
        done = True
        for k in range(1, 0 if args.tabulate_only else len(seeds) + 1):
            for method in methods:
                if args.budget_minutes is not None and time.perf_counter() - t0 > args.budget_minutes * 60:
                    done = False
                    break
                sh(work, str(bindir / "train"), "compare", "--methods", method, "--seeds", ",".join(seeds[:k]), *common)
                sync_runs(work / "compare", store, "save")
            if not done:
                break
        # The table so far: every method over the seeds it has finished, from the committed store.
        table = tabulate(store, methods, seeds, args.select_epochs or None)
        if not table["summary"]:
            print("no run finished yet; nothing to tabulate")
            continue
        print(f"\n{protocol}: this invocation {(time.perf_counter() - t0) / 60:.1f} min")
        print("reading the first 128 tokens (every run):")
        print(markdown(table["summary"], table["selection"]))
        # Runs made since windowed reading exists also record every 128-token window's mean logits (train's default).
        windowed = tabulate(store, methods, seeds, args.select_epochs or None, read="windows")
        if windowed["summary"]:
            print("reading every 128-token window, mean logits (runs that recorded it):")
            print(markdown(windowed["summary"], windowed["selection"]))
        plot_per_class(table["runs"], RESULTS / f"quality{'' if protocol == 'step' else '_' + protocol}_per_class_f1.png")
        write_result("quality" if protocol == "step" else f"quality_{protocol}", {
            "protocol": protocol, "args": vars(args), "complete": done and all(len(v) == len(seeds) for v in table["seeds_per_method"].values())
            and len(table["summary"]) == len(methods), "machine": machine(), "wall_seconds_this_invocation": time.perf_counter() - t0,
            "train_counts": count_labels(work / "train.jsonl"), "augmented_counts": count_labels(work / "augmented.jsonl"),
            **table, "reading": "first 128 tokens",
            "windows": {**{k: windowed[k] for k in ("summary", "seeds_per_method", "selection")},
                        "reading": "every 128-token window, mean logits (at most 16 a post)"},
            "paper": PAPER if protocol == "step" else None})


if __name__ == "__main__":
    main()
