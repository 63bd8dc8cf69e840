"""The TF-IDF blend as `train two-stage`'s default, measured on the 20 Newsgroups protocols.

The ADME grouped CV (bench/bt_vs_eda.py) put two-stage blended with a TF-IDF + LR peer at weight
0.75 (p = 0.25 * two-stage + 0.75 * tfidf-lr, weight chosen in bench/adme_cv.py on inner grouped
validation splits) ahead of tfidf-lr, probe and vanilla. Before that blend becomes the default of
`train two-stage`, it must hold on the 20NG protocols of bench/quality.py (same data, same
augmented corpus, lr 1e-4 as quality.py chose for two-stage+cb, max length 128, windowed reading):
`train compare --methods two-stage --tfidf-weight 0.75`, seeds 7, 42, 106, nothing chosen on the
test split. Every run also reports the unblended model and each weight of the blend grid on the
same test split (`blend` in metrics.json), so the rows "unblended" are the same runs.

Peers are quality.py's runs (tfidf-lr, probe: deterministic; two-stage+cb: its windowed reading).
"vs tfidf-lr" is the per-seed difference to the deterministic peer (mean ± SEM over seeds).
Runs go seed by seed, longtail (the protocol where tfidf-lr led) before step; each finished run's
metrics.json and run.json are copied to bench/results/default_20ng_runs/PROTOCOL/ at once, and
a later invocation reuses them.

    python bench/default_20ng.py [--protocols longtail,step] [--budget-minutes M] [--bin DIR] [--tabulate-only]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, sh, sync_runs, write_result  # noqa: E402

SEEDS = ("7", "42", "106")
WEIGHT = "0.75"
KEYS = ("micro_f1", "macro_f1", "non_majority_micro_f1", "minority_mean_f1")


def _row(values: list[dict]) -> dict:
    from prefit.stages.train.metrics import mean_sem

    return {k: dict(zip(("mean", "sem"), mean_sem([v[k] for v in values]))) for k in KEYS} | {"n": len(values)}


def _load(path: Path, read: str = "windows") -> dict | None:
    from prefit.stages.train.run import metrics_for_reading

    return metrics_for_reading(json.loads(path.read_text()), read, 16) if path.exists() else None


def protocol_table(protocol: str) -> dict:
    store = RESULTS / "default_20ng_runs" / protocol / "two-stage"
    quality = RESULTS / "quality_runs" / protocol
    runs = [m for s in SEEDS if (m := _load(store / f"seed-{s}" / "metrics.json")) is not None]
    rows: dict[str, dict] = {}
    if runs:
        rows[f"two-stage --tfidf-weight {WEIGHT} (candidate default)"] = _row(runs)
        rows["same runs, unblended"] = _row([m["blend"]["0.0"] for m in runs])
        for w in ("0.25", "0.5"):
            rows[f"same runs, --tfidf-weight {w}"] = _row([m["blend"][w] for m in runs])
    old = [m for s in SEEDS if (m := _load(quality / "two-stage+cb" / f"seed-{s}" / "metrics.json")) is not None]
    if old:
        rows["two-stage+cb, quality.py (no blend)"] = _row(old)
    bt = RESULTS / "bt_vs_eda_runs" / protocol / "two-stage"
    bt_runs = [m for s in SEEDS if (m := _load(bt / f"seed-{s}" / "metrics.json")) is not None and "blend" in m]
    if bt_runs:
        rows[f"two-stage on back-translation, --tfidf-weight {WEIGHT} (bt_vs_eda.py runs)"] = _row([m["blend"][WEIGHT] for m in bt_runs])
        rows["two-stage on back-translation, unblended (bt_vs_eda.py runs)"] = _row([m["blend"]["0.0"] for m in bt_runs])
    peers = {p: m for p in ("tfidf-lr", "probe") if (m := _load(quality / p / "seed-7" / "metrics.json")) is not None}
    for p, m in peers.items():
        rows[p] = _row([m])
    vs = {}
    if runs and "tfidf-lr" in peers:
        from prefit.stages.train.metrics import mean_sem

        for k in KEYS:
            mean, sem = mean_sem([m[k] - peers["tfidf-lr"][k] for m in runs])
            vs[k] = {"mean": mean, "sem": sem, "wins": sum(m[k] > peers["tfidf-lr"][k] for m in runs), "n": len(runs)}
    return {"rows": rows, "vs_tfidf_lr": vs, "seeds": [str(m["seed"]) for m in runs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--protocols", default="longtail,step")
    ap.add_argument("--budget-minutes", type=float, default=None, help="Start no new run after this long.")
    ap.add_argument("--bin", default=None, help="Folder of the aug/train commands to run [default: beside this Python].")
    ap.add_argument("--tabulate-only", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    bindir = Path(args.bin) if args.bin else Path(sys.executable).parent
    protocols = args.protocols.split(",")
    if not args.tabulate_only:
        from quality import make_data

        for protocol in protocols:
            make_data(RESULTS / "quality_work" / protocol, protocol, 100, bindir)
            sync_runs(RESULTS / "quality_work" / protocol / "compare-blend", RESULTS / "default_20ng_runs" / protocol, "restore")
        for k in range(1, len(SEEDS) + 1):  # seeds outside: every protocol has a seed before either gets a second
            for protocol in protocols:
                if args.budget_minutes is not None and time.perf_counter() - t0 > args.budget_minutes * 60:
                    break
                work, store = RESULTS / "quality_work" / protocol, RESULTS / "default_20ng_runs" / protocol
                sh(work, str(bindir / "train"), "compare", "--methods", "two-stage", "--seeds", ",".join(SEEDS[:k]), "--train", "train.jsonl",
                   "--augmented", "augmented.jsonl", "--eval", "test.jsonl", "--max-length", "128", "--tfidf-weight", WEIGHT,
                   "-o", "compare-blend", "-q")
                sync_runs(work / "compare-blend", store, "save")
    tables = {p: protocol_table(p) for p in ("longtail", "step")}
    for p, t in tables.items():
        print(f"\n{p} (every 128-token window, mean logits; seeds {', '.join(t['seeds']) or 'none yet'})")
        for name, row in t["rows"].items():
            print(f"  {name:72s} " + "  ".join(f"{row[k]['mean']:.4f} ± {row[k]['sem']:.4f}" for k in KEYS[:3]))
        for k, v in t["vs_tfidf_lr"].items():
            print(f"  vs tfidf-lr {k}: {v['mean']:+.4f} ± {v['sem']:.4f} ({v['wins']} of {v['n']})")
    write_result("default_20ng", {
        "args": vars(args), "machine": machine(), "wall_seconds_this_invocation": time.perf_counter() - t0,
        "settings": f"train compare --methods two-stage --tfidf-weight {WEIGHT} --max-length 128 (lr 1e-4, the other defaults), "
                    "quality.py's data and EDA corpus; reading: every 128-token window, mean logits (train's default)",
        "protocols": tables})


if __name__ == "__main__":
    main()
