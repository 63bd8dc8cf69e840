"""Run several methods over several seeds and report mean +- SEM, as the paper does (5 seeds).

With a selection grid (select.py), each method first picks its hyper-parameters on a validation
split carved from the training file; the seeds then train with the chosen values on the whole
training file and are evaluated on the evaluation file.

Finished runs (a run directory with metrics.json, trained with the same settings) are reused, so
an interrupted comparison resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from pathlib import Path

from prefit.jsonl import atomic_write, write_json_atomic
from prefit.stages.train.metrics import mean_sem
from prefit.stages.train.provenance import data_fingerprints, settings_file
from prefit.stages.train.recipes import split_variant
from prefit.stages.train.run import RunConfig, load_metrics, metrics_for_reading, run
from prefit.stages.train.select import apply, carve_validation, method_grid, tag

log = logging.getLogger("prefit")

SUMMARY_METRICS = ("accuracy", "micro_f1", "macro_f1", "non_majority_micro_f1", "minority_mean_f1")


def compare(base: RunConfig, methods: list[str], seeds: list[int], out_dir: str | Path, *, grid: dict[str, list[float]] | None = None,
            val_fraction: float = 0.2, select_seed: int = 0, group_field: str | None = None,
            select_metric: str = "macro_f1", select_epochs: int | None = None) -> dict:
    from prefit.model.peer_store import PEERS

    out_dir = Path(out_dir)
    n_select = sum(len(method_grid(m, grid, m in PEERS, split_variant(m)[0] in ("two-stage", "lpft"))) for m in methods) if grid else 0
    counter = RunCounter(n_select + len(methods) * len(seeds))
    selection = select(base, methods, out_dir, grid, val_fraction, select_seed, group_field, select_metric, counter,
                       proxy_epochs=select_epochs) if grid else {}
    runs: dict[str, list[dict]] = {}
    for method in methods:
        cfg = replace(base, method=method, cache_dir=str(out_dir / "cache"))
        if method in selection:
            cfg = replace(cfg, recipe=apply(cfg.recipe, selection[method]["chosen"]))
        for seed in seeds:
            counter.next(f"{method} seed {seed}")
            runs.setdefault(method, []).append(_run_or_reuse(replace(cfg, seed=seed, output=str(out_dir / method / f"seed-{seed}"))))
    table = aggregate(runs)
    reading = reading_note(base)
    blended = {m: v[0]["tfidf_weight"] for m, v in runs.items() if v[0].get("tfidf_weight")}  # blend.py; two-stage's default
    if blended:
        reading += ". TF-IDF blended in (--tfidf-weight): " + ", ".join(f"{m} at {w:g}" for m, w in blended.items())
    write_json_atomic(out_dir / "results.json", {"seeds": seeds, "methods": methods, "reading": reading, "summary": table, "selection": selection,
                                                  "runs": {k: [_slim(m) for m in v] for k, v in runs.items()}})
    with atomic_write(out_dir / "results.md") as fh:
        fh.write(markdown_table(table, len(seeds), selection, reading))
    plot_per_class(runs, out_dir / "per_class_f1.png")
    return table


class RunCounter:
    """"run 3/14: two-stage seed 42" before each run, so a long comparison says where it is."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def next(self, what: str) -> None:
        self.done += 1
        log.info("run %d/%d: %s", self.done, self.total, what)


def _run_or_reuse(cfg: RunConfig) -> dict:
    """Reuse a finished run trained with the same recipe and data; otherwise (re)train it."""
    rd = Path(cfg.output)
    if (rd / "metrics.json").exists() and not cfg.overwrite:
        try:
            old = json.loads(settings_file(rd).read_text())
        except (OSError, ValueError):
            old = None
        if isinstance(old, dict) and same_training(old, cfg):
            m = metrics_for_reading(load_metrics(rd), cfg.read, cfg.max_windows)
            if m is not None:
                log.info("reusing finished run %s", rd)
                return m
            log.info("run %s has no %s reading (max %d windows) recorded; training it again", rd, cfg.read, cfg.max_windows)
        else:
            log.info("run %s was trained with other settings; training it again", rd)
    return run(replace(cfg, overwrite=True))


def same_training(old: dict, cfg: RunConfig) -> bool:
    """Whether a finished run's run.json describes the training `cfg` would do: same method, data
    files (paths, and contents when the run recorded their SHA-256), model, seed, length and
    pooling, and the same stages once defaults are resolved (a run made with `--class-weights cb`
    equals one whose default is cb), or for a peer the same C. The reading (`read`) is not
    training: a run records every reading's metrics (metrics_for_reading)."""
    from prefit.model.peer_store import PEERS
    from prefit.stages.train.recipes import RecipeOptions, recipe, tfidf_weight_of

    run_old, new = old.get("run") or {}, asdict(cfg)
    if any(run_old.get(k) != new[k] for k in ("method", "train", "eval", "augmented", "model", "seed", "max_length", "pooling")):
        return False
    # Runs recorded before data fingerprints existed (no "data_sha256") are judged by their paths alone.
    if "data_sha256" in old and old["data_sha256"] != data_fingerprints(cfg):
        return False
    if cfg.method in PEERS:
        return (run_old.get("recipe") or {}).get("peer_c") == cfg.recipe.peer_c
    old_recipe = run_old.get("recipe") or {}
    # A run recorded before the blend existed has no "tfidf_weight" (0); None is the method's default.
    old_weight = tfidf_weight_of(cfg.method, RecipeOptions(tfidf_weight=old_recipe.get("tfidf_weight", 0.0)))
    if old_recipe.get("wise_alpha", 1.0) != cfg.recipe.wise_alpha or old_weight != tfidf_weight_of(cfg.method, cfg.recipe):
        return False
    return old.get("stages") == json.loads(json.dumps([asdict(s) for s in recipe(cfg.method, cfg.recipe)]))


def select(base: RunConfig, methods: list[str], out_dir: Path, grid: dict[str, list[float]], val_fraction: float, select_seed: int,
           group_field: str | None, metric: str, counter: RunCounter | None = None, *, proxy_epochs: int | None = None) -> dict:
    """Per method: every candidate of the grid trained on the training file minus a validation split and
    scored on that split; the best by `metric` (first on ties). Never reads the evaluation file.

    With `proxy_epochs`, a transformer method's candidates train their last stage (the one that
    finetunes the whole model) for that many epochs instead of the recipe's: a shorter proxy that
    ranks the candidates; the chosen values then train the seeds with the recipe's epochs. Their
    runs go to `TAG__proxy-epochs-N`, so proxy and full selection runs never replace each other."""
    from prefit.model.peer_store import PEERS

    sel_dir = out_dir / "selection"
    split = carve_validation(base.train, base.augmented, sel_dir / "split", base.fields, fraction=val_fraction, seed=select_seed,
                             group_field=group_field)
    log.info("selection: %d training / %d validation records (seed %d%s), metric %s", split.n_train, split.n_val, select_seed,
             f", grouped by {group_field}: {split.groups} groups held out" if group_field else ", stratified", metric)
    out = {}
    for method in methods:
        is_peer = method in PEERS
        cands = method_grid(method, grid, is_peer, split_variant(method)[0] in ("two-stage", "lpft"))
        scored = []
        proxy = proxy_epochs if proxy_epochs and not is_peer else None
        for params in cands:
            trained = {**params, "epochs": proxy} if proxy else params
            name = tag(params) + (f"__proxy-epochs-{proxy}" if proxy else "")
            cfg = replace(base, method=method, seed=select_seed, train=split.train, eval=split.val, augmented=split.augmented,
                          recipe=apply(base.recipe, trained), output=str(sel_dir / method / name), cache_dir=str(out_dir / "cache"))
            if counter is not None:
                counter.next(f"selection {method} {name}")
            m = _run_or_reuse(cfg)
            scored.append({"params": params, metric: m[metric], **({"proxy_epochs": proxy} if proxy else {})})
            log.info("selection %s %s: %s %.4f", method, name, metric, m[metric])
        best = max(scored, key=lambda c: c[metric])  # max keeps the first of equal scores
        out[method] = {"chosen": best["params"], "metric": metric, "candidates": scored}
    write_json_atomic(sel_dir / "selection.json", {"split": asdict(split), "seed": select_seed, "group_field": group_field,
                                                    "methods": out})
    return out


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


def reading_note(cfg: RunConfig) -> str:
    """How the transformer methods read the evaluation texts (windows.py); the peers read whole texts."""
    if cfg.read == "windows":
        return f"transformers read every {cfg.max_length}-token window of a text (mean logits, at most {cfg.max_windows})"
    return f"transformers read the first {cfg.max_length} tokens of a text"


def markdown_table(table: dict, n_seeds: int, selection: dict | None = None, reading: str | None = None) -> str:
    cols = [("micro_f1", "micro-F1"), ("macro_f1", "macro-F1"), ("non_majority_micro_f1", "non-majority micro-F1"),
            ("minority_mean_f1", "minority-class mean F1")]
    # One seed has no standard error: print the value alone rather than a "± 0.0000" that claims certainty.
    head = f"Mean ± SEM over {n_seeds} seeds." if n_seeds > 1 else "One seed: no standard error."
    if reading:
        head += f" Reading: {reading}."
    selection = selection or {}
    extra = ["chosen on validation"] if selection else []
    lines = [head, "", "| method | " + " | ".join([c[1] for c in cols] + extra) + " |", "|---|" + "---|" * (len(cols) + len(extra))]
    for method, row in table.items():
        cells = [f"{row[k]['mean']:.4f}" + (f" ± {row[k]['sem']:.4f}" if n_seeds > 1 else "") for k, _ in cols]
        if selection:
            sel = selection.get(method, {})
            proxy = next((c["proxy_epochs"] for c in sel.get("candidates", []) if "proxy_epochs" in c), None)
            cells.append((", ".join(f"{k} {v:g}" for k, v in sel.get("chosen", {}).items()) or "defaults")
                         + (f" ({proxy}-epoch proxy)" if proxy else ""))
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
