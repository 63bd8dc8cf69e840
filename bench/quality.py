"""Quality: vanilla vs two-stage on step-imbalanced 20 Newsgroups (rho = 0.1, 10 majority and
10 minority classes), EDA-balanced augmentation, default encoder, several seeds.

Steps (all through the real CLIs): stratified test split held out from
../shared/data/20newsgroups/train.jsonl.gz; `aug imbalance --kind step --ratio 0.1`;
`aug eda --balance max`; `train compare --methods vanilla,two-stage --seeds ...`.
Seeds run one at a time (both methods), and after each the table so far (micro-F1, macro-F1,
non-majority micro-F1, minority-class mean F1, mean ± SEM) and the wall time are printed and
written to bench/results/quality.json. Re-running resumes: finished runs are reused. Not part of
CI: about 37 minutes per seed on an idle 2-core CPU (16 vanilla, 21 two-stage). The JSON's
wall_seconds_this_invocation excludes reused runs; per-method run times are under summary.

    python bench/quality.py [--seeds 7,42,106] [--max-length 128] [--test-per-class 100]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, body, machine, newsgroups, write_result  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="7,42,106")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--test-per-class", type=int, default=100)
    ap.add_argument("--work", default=str(RESULTS / "quality_work"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    bindir = Path(sys.executable).parent
    rows = newsgroups()
    rng = random.Random(0)
    rng.shuffle(rows)
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["label"], []).append({"id": r["id"], "text": " ".join(body(r["text"]).split())[:2000], "label": r["label"]})
    by = {k: [r for r in v if r["text"].strip()] for k, v in by.items()}
    test = [r for v in by.values() for r in v[: args.test_per_class]]
    train = [r for v in by.values() for r in v[args.test_per_class :]]
    for name, data in (("test", test), ("balanced", train)):
        with open(work / f"{name}.jsonl", "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in data)

    def sh(*a: str) -> None:
        print("$ " + " ".join(a), flush=True)
        subprocess.run(a, check=True)

    sh(str(bindir / "aug"), "imbalance", str(work / "balanced.jsonl"), "-o", str(work / "train.jsonl"), "--kind", "step", "--ratio", "0.1",
       "--seed", "0", "--overwrite")
    if not (work / "augmented.jsonl").exists():
        sh(str(bindir / "aug"), "eda", str(work / "train.jsonl"), "-o", str(work / "augmented.jsonl"), "--balance", "max")
    seeds = args.seeds.split(",")
    paper = {"setting": "20NG step rho=0.1, BERT-base", "non_majority_micro_f1": {"vanilla": 0.6433, "two-stage": 0.6781}}
    # Seed by seed: `compare` reuses finished runs, so after each seed the table covers both methods
    # on the same seeds, and an interrupted bench resumes where it stopped.
    for k in range(1, len(seeds) + 1):
        sh(str(bindir / "train"), "compare", "--methods", "vanilla,two-stage", "--seeds", ",".join(seeds[:k]), "--train",
           str(work / "train.jsonl"), "--augmented", str(work / "augmented.jsonl"), "--eval", str(work / "test.jsonl"),
           "--max-length", str(args.max_length), "-o", str(work / "compare"), "-q")
        res = json.loads((work / "compare" / "results.json").read_text())
        wall = time.perf_counter() - t0
        print(f"\n{k} seed(s) ({','.join(seeds[:k])}), wall time so far {wall / 60:.1f} min")
        print((work / "compare" / "results.md").read_text())
        write_result("quality", {"args": vars(args), "seeds_done": seeds[:k], "machine": machine(), "wall_seconds_this_invocation": wall,
                                 "train_counts": _counts(work / "train.jsonl"), "augmented_counts": _counts(work / "augmented.jsonl"),
                                 "summary": res["summary"], "runs": res["runs"], "paper": paper})


def _counts(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(path) as fh:
        for line in fh:
            lab = json.loads(line)["label"]
            out[lab] = out.get(lab, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))

if __name__ == "__main__":
    main()
