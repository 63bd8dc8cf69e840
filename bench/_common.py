"""Helpers shared by the benchmark scripts: data loading, timing, table printing, JSON output."""

from __future__ import annotations

import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def newsgroups(path: Path | None = None) -> list[dict]:
    path = path or SHARED / "20newsgroups" / "train.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def body(text: str) -> str:
    """A 20 Newsgroups post without its header block."""
    return text.split("\n\n", 1)[-1]


def median_time(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def machine() -> dict:
    import torch

    cpu_model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), None) if Path("/proc/cpuinfo").exists() else None
    return {"cpu_count": os.cpu_count(), "cpu_model": cpu_model, "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(h) for h in headers]] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for j, r in enumerate(cells):
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
        if j == 0:
            print("  ".join("-" * x for x in w))


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {out}")
    return out


def sh(cwd: Path, *a: str) -> None:
    print(f"$ (cd {cwd}) " + " ".join(a), flush=True)
    subprocess.run(a, check=True, cwd=cwd)


def count_labels(path: Path, field: str = "label") -> dict[str, int]:
    out: dict[str, int] = {}
    with open(path) as fh:
        for line in fh:
            lab = json.loads(line)[field]
            out[lab] = out.get(lab, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def sync_runs(compare: Path, store: Path, direction: str) -> int:
    """Copy finished `train` runs' metrics.json + run.json (config.json before the rename) (a few KB, no weights) between a
    work folder and the committed store: "save" after each run, "restore" at the start, so that
    `train compare` in a later session reuses them instead of training again."""
    src, dst = (compare, store) if direction == "save" else (store, compare)
    n = 0
    for m in src.glob("**/metrics.json"):
        rel = m.parent.relative_to(src)
        settings = next((m.parent / n for n in ("run.json", "config.json") if (m.parent / n).exists()), None)
        if settings is None:
            continue
        # Restore never replaces a run; save replaces a stored run that the work folder trained
        # again (e.g. to record a reading the stored one lacks).
        if (dst / rel / "metrics.json").exists() and (direction == "restore" or (dst / rel / "metrics.json").read_bytes() == m.read_bytes()):
            continue
        (dst / rel).mkdir(parents=True, exist_ok=True)
        shutil.copy2(settings, dst / rel / settings.name)
        shutil.copy2(m, dst / rel / "metrics.json")  # last: its presence marks a finished run
        n += 1
    return n


def tabulate(store: Path, methods: list[str], seeds: list[str], proxy_epochs: int | None = None, read: str = "first",
             max_windows: int = 16) -> dict:
    """The table so far from the committed run store: each method over the seeds it has finished
    (mean ± SEM; `seeds` per method says which), its chosen values and selection candidates, as the
    runs read under `read` (prefit.model.windows): a run made before windowed reading existed counts
    for "first" only.

    Selection runs of a shorter proxy (`train compare --select-epochs N`: TAG__proxy-epochs-N) and
    full ones are told apart: "best" is the choice of the kind this bench uses (the proxy when
    `proxy_epochs` is given and its runs exist); where both kinds ran, "best_full" and
    "best_proxy" show whether the proxy picks what full selection picks."""
    from prefit.stages.train.compare import aggregate
    from prefit.stages.train.run import metrics_for_reading

    def load(path: Path) -> dict | None:
        return metrics_for_reading(json.loads(path.read_text()), read, max_windows) if path.exists() else None

    runs, done, selection = {}, {}, {}
    suffix = f"__proxy-epochs-{proxy_epochs}" if proxy_epochs else None
    for m in methods:
        ms = [x for x in (load(store / m / f"seed-{s}" / "metrics.json") for s in seeds) if x is not None]
        if ms:
            runs[m], done[m] = ms, [str(x["seed"]) for x in ms]
        cands = sorted((store / "selection" / m).glob("*/metrics.json")) if (store / "selection" / m).exists() else []
        scored = [{"run": c.parent.name, "macro_f1": x["macro_f1"]} for c in cands if (x := load(c)) is not None]
        full = [c for c in scored if "__proxy-epochs-" not in c["run"]]
        proxy = [c for c in scored if suffix and c["run"].endswith(suffix)]
        # A kind whose runs lack a value the other kind tried has not finished: it chooses nothing yet.
        tags = {k: {c["run"].split("__")[0] for c in v} for k, v in (("full", full), ("proxy", proxy))}
        unfinished = {k: sorted(t) for k, t in tags.items() if t and t != tags["full"] | tags["proxy"]}
        kinds = {k: max(v, key=lambda c: c["macro_f1"])["run"].split("__")[0] for k, v in (("full", full), ("proxy", proxy))
                 if v and k not in unfinished}
        if kinds:
            selection[m] = {"candidates": scored, "best": kinds.get("proxy", kinds.get("full")),
                            **({"best_full": kinds["full"], "best_proxy": kinds["proxy"]} if len(kinds) == 2 else {}),
                            **({"unfinished": unfinished} if unfinished else {})}
    summary = aggregate(runs) if runs else {}
    for m in summary:
        summary[m]["seeds"] = done[m]
    return {"summary": summary, "seeds_per_method": done, "selection": selection,
            "runs": {m: [{k: x[k] for k in ("seed", "seconds", "micro_f1", "macro_f1", "non_majority_micro_f1", "minority_mean_f1",
                                            "per_class") if k in x} for x in v] for m, v in runs.items()}}


def markdown(summary: dict, selection: dict) -> str:
    cols = [("micro_f1", "micro-F1"), ("macro_f1", "macro-F1"), ("non_majority_micro_f1", "non-majority micro-F1"),
            ("minority_mean_f1", "minority-class mean F1")]
    lines = ["| method | seeds | " + " | ".join(c[1] for c in cols) + " | chosen on validation |", "|---|---|" + "---|" * (len(cols) + 1)]
    for m, row in summary.items():
        n = len(row["seeds"])
        cells = [f"{row[k]['mean']:.4f}" + (f" ± {row[k]['sem']:.4f}" if n > 1 else "") for k, _ in cols]
        sel = selection.get(m, {})
        chosen = sel.get("best", "-") + (f" (proxy; full selection: {sel['best_full']})" if "best_full" in sel else "")
        chosen += "".join(f" ({k} selection unfinished: only {', '.join(t)})" for k, t in sel.get("unfinished", {}).items())
        lines.append(f"| {m} | {n} | " + " | ".join(cells) + f" | {chosen} |")
    return "\n".join(lines) + "\n"


def add_compare_args(ap, methods: str, select: list[str], max_length: int, work: str, select_epochs: int | None = None) -> None:
    """The options bench/quality.py and bench/adme.py share."""
    ap.add_argument("--select-epochs", type=int, default=select_epochs,
                    help="Selection candidates train their last stage this many epochs (a shorter proxy; 0: the recipe's)"
                    f" (default: {select_epochs or 0})")
    ap.add_argument("--methods", default=methods)
    ap.add_argument("--seeds", default="7,42,106")
    ap.add_argument("--select", action="append", default=None, help=f"NAME=V1,V2 (default: {' '.join(select)})")
    ap.add_argument("--max-length", type=int, default=max_length)
    ap.add_argument("--budget-minutes", type=float, default=None, help="Start no new run after this long.")
    ap.add_argument("--work", default=work)
    ap.add_argument("--tabulate-only", action="store_true", help="Train nothing: write the JSON from the finished runs.")


def grouped_folds(work: Path, dest: Path, folds: int, bindir: Path) -> list[Path]:
    """GroupKFold by "group" over every distinct paragraph of WORK/split (both sides): DEST/fold-K
    with train.jsonl, test.jsonl and an `aug eda --balance max` corpus of the training side."""
    from sklearn.model_selection import GroupKFold

    rows = [json.loads(x) for name in ("train", "test") for x in (work / "split" / f"{name}.jsonl").read_text().splitlines()]
    out = []
    for k, (tr, te) in enumerate(GroupKFold(n_splits=folds).split(rows, groups=[r["group"] for r in rows])):
        d = dest / f"fold-{k}"
        d.mkdir(parents=True, exist_ok=True)
        for name, idx in (("train", tr), ("test", te)):
            if not (d / f"{name}.jsonl").exists():
                (d / f"{name}.jsonl").write_text("".join(json.dumps(rows[i]) + "\n" for i in idx))
        if not (d / "augmented.jsonl").exists():
            sh(d, str(bindir / "aug"), "eda", "train.jsonl", "-o", "augmented.jsonl", "--balance", "max", "-q")
        out.append(d)
    return out
