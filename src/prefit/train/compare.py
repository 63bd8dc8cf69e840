"""Run several methods over several seeds and report mean +- SEM, as the paper does (5 seeds).

Finished runs (a run directory with metrics.json) are reused, so an interrupted comparison
resumes where it stopped.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from prefit.jsonl import atomic_write, write_json_atomic
from prefit.train.metrics import mean_sem
from prefit.train.run import RunConfig, load_metrics, run

log = logging.getLogger("prefit")

SUMMARY_METRICS = ("accuracy", "micro_f1", "macro_f1", "non_majority_micro_f1", "minority_mean_f1")


def compare(base: RunConfig, methods: list[str], seeds: list[int], out_dir: str | Path) -> dict:
    out_dir = Path(out_dir)
    runs: dict[str, list[dict]] = {}
    for method in methods:
        for seed in seeds:
            rd = out_dir / method / f"seed-{seed}"
            if (rd / "metrics.json").exists() and not base.overwrite:
                log.info("reusing finished run %s", rd)
                m = load_metrics(rd)
            else:
                m = run(replace(base, method=method, seed=seed, output=str(rd), overwrite=True))
            runs.setdefault(method, []).append(m)
    table = aggregate(runs)
    write_json_atomic(out_dir / "results.json", {"seeds": seeds, "methods": methods, "summary": table,
                                                  "runs": {k: [_slim(m) for m in v] for k, v in runs.items()}})
    with atomic_write(out_dir / "results.md") as fh:
        fh.write(markdown_table(table, len(seeds)))
    plot_per_class(runs, out_dir / "per_class_f1.png")
    return table


def _slim(m: dict) -> dict:
    return {k: m[k] for k in ("seed", "seconds", *SUMMARY_METRICS, "per_class") if k in m}


def aggregate(runs: dict[str, list[dict]]) -> dict:
    table = {}
    for method, ms in runs.items():
        row = {}
        for key in SUMMARY_METRICS:
            mean, sem = mean_sem([m[key] for m in ms])
            row[key] = {"mean": mean, "sem": sem}
        labels = list(ms[0]["per_class"])
        row["per_class_f1"] = {lab: dict(zip(("mean", "sem"), mean_sem([m["per_class"][lab]["f1"] for m in ms]))) for lab in labels}
        row["seconds"] = sum(m.get("seconds", 0) for m in ms)
        table[method] = row
    return table


def markdown_table(table: dict, n_seeds: int) -> str:
    cols = [("micro_f1", "micro-F1"), ("macro_f1", "macro-F1"), ("non_majority_micro_f1", "non-majority micro-F1"),
            ("minority_mean_f1", "minority-class mean F1")]
    # One seed has no standard error: print the value alone rather than a "± 0.0000" that claims certainty.
    head = f"Mean ± SEM over {n_seeds} seeds." if n_seeds > 1 else "One seed: no standard error."
    lines = [head, "", "| method | " + " | ".join(c[1] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for method, row in table.items():
        cells = [f"{row[k]['mean']:.4f}" + (f" ± {row[k]['sem']:.4f}" if n_seeds > 1 else "") for k, _ in cols]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_per_class(runs: dict[str, list[dict]], path: Path) -> None:
    """One bar group per class, majority (largest training) classes first; error bars are SEM."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    first = next(iter(runs.values()))[0]["per_class"]
    labels = sorted(first, key=lambda lab: (-first[lab]["train_count"], lab))
    methods = list(runs)
    x = np.arange(len(labels))
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(labels) + 2), 4.5))
    for j, method in enumerate(methods):
        stats = [mean_sem([m["per_class"][lab]["f1"] for m in runs[method]]) for lab in labels]
        ax.bar(x + (j - (len(methods) - 1) / 2) * width, [s[0] for s in stats], width, yerr=[s[1] for s in stats], label=method, capsize=2)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{lab} ({first[lab]['train_count']})" for lab in labels], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("F1 (per class)")
    ax.set_ylim(0, 1)
    ax.set_title("Per-class F1, mean ± SEM over seeds (training size in brackets)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
