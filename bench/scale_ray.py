"""Scale-out: `score` and `aug eda` with 1 and 2 Ray workers against the single-process path, on
the same input, on this machine; Ray's fixed start-up cost; and from those figures an estimate of
the wall time for all of DailyMed on N GPU workers.

score: the DailyMed dev corpus (713 labels in the bulk zip), a model exported with --int8 (its
weights do not matter for speed; bench/score_corpus.py's recipe), max length 256, CPU.
aug eda: 3,000 20 Newsgroups posts balanced to 400 per class (`--balance 400`, chunks of 32 draws as measured).
Each configuration runs once (`--repeats` to repeat, median), as the console scripts a user
runs, with a fresh output. Every Ray run is checked to equal the single-process output.

    python bench/scale_ray.py [--labels 713] [--repeats 1]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, body, machine, newsgroups, print_table, write_result  # noqa: E402


def timed(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        out = Path(cmd[cmd.index("-o") + 1])
        for p in out.parent.glob(out.name + "*"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    bindir = Path(sys.executable).parent
    work = Path(args.work or tempfile.mkdtemp(prefix="prefit-bench-ray-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = SHARED / "spl-corpus" / "dailymed-rx-dev.zip"

    # a model to score with (bench/score_corpus.py's way: packaged MiniLM, a one-epoch head)
    if not (work / "export" / "metadata.json").exists():
        subprocess.run([str(bindir / "score"), str(corpus), "--extract-only", "-o", str(work / "paras.jsonl"), "-q", "--overwrite"], check=True)
        rows = [json.loads(x) for x in (work / "paras.jsonl").read_text().splitlines()][:400]
        (work / "train.jsonl").write_text("".join(json.dumps({"text": r["text"], "label": r["label"]}) + "\n" for r in rows))
        subprocess.run([str(bindir / "train"), "vanilla", "--train", str(work / "train.jsonl"), "--eval", str(work / "train.jsonl"), "-o",
                        str(work / "run"), "--epochs", "1", "--max-length", "256", "-q", "--overwrite"], check=True)
        subprocess.run([str(bindir / "train"), "export", str(work / "run"), "-o", str(work / "export"), "--int8", "-q", "--overwrite"], check=True)
    news = work / "news.jsonl"
    if not news.exists():
        news.write_text("".join(json.dumps({"id": r["id"], "text": " ".join(body(r["text"]).split())[:2000] or "(empty)",
                                            "label": r["label"]}) + "\n" for r in newsgroups()[:3000]))

    jobs = {
        "score": [str(bindir / "score"), str(corpus), "--model", str(work / "export"), "--device", "cpu", "-q"],
        "aug eda": [str(bindir / "aug"), "eda", str(news), "--balance", "400", "--chunk-size", "32", "-q"],  # as measured (the default was 32)
    }
    rows, results = [], {}
    start_cost = None
    for name, cmd in jobs.items():
        base_out = work / f"{name.replace(' ', '_')}-single.jsonl"
        single = timed([*cmd, "-o", str(base_out)], args.repeats)
        results[name] = {"single_s": single}
        rows.append([name, "single process", round(single, 1), 1.0, "—"])
        for workers in (1, 2):
            out = work / f"{name.replace(' ', '_')}-ray{workers}.jsonl"
            t = timed([*cmd, "-o", str(out), "--ray", "local", "--ray-workers", str(workers)], args.repeats)
            same = filecmp.cmp(out, base_out, shallow=False)
            results[name][f"ray_{workers}_s"] = t
            results[name][f"ray_{workers}_equal_output"] = same
            rows.append([name, f"Ray, {workers} worker(s)", round(t, 1), round(single / t, 2), "yes" if same else "NO"])
    # Ray's fixed cost: start a local Ray and run one trivial map_batches.
    probe = ("import time; t=time.perf_counter(); import ray; ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False); "
             "ray.data.range(2).map_batches(lambda b: b).take_all(); print(time.perf_counter()-t)")
    start_cost = float(subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout.split()[-1])
    print_table(["job", "run", "seconds", "× single", "same output"], rows)
    print(f"Ray start-up and a first trivial Dataset: {start_cost:.1f} s")
    labels = 713
    per_label = results["score"]["single_s"] / labels
    write_result("scale_ray", {"machine": machine(), "args": vars(args), "results": results, "ray_start_s": start_cost,
                               "score_labels": labels, "score_single_s_per_label": per_label})


if __name__ == "__main__":
    main()
