"""Scoring throughput on a real corpus: all 713 labels of the DailyMed dev bulk archive, end to end.

`score dailymed-rx-dev.zip --model EXPORT` reads the bulk zip (zips of zips, streamed), parses
every label, finds its PK paragraphs, tokenizes and runs onnxruntime int8 on CPU; beside it, the
same with `--extract-only` (parse only), so the model's share is visible. Peak memory is the
child process's maximum resident set size. The model: all-MiniLM-L6-v2 (mean pooling) trained
for one epoch on the shipped ADME paragraph set and exported with --int8 (quality does not
matter here, only its shape: 6 layers, max length 256). One run each (the corpus is the repeat).

    python bench/score_corpus.py [--max-length 256]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED, machine, print_table, write_result  # noqa: E402


def timed(*cmd: str) -> tuple[float, float]:
    """(seconds, peak RSS of this one child in MiB, from its own rusage via wait4)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    sec = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed")
    return sec, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    bindir = Path(sys.executable).parent
    corpus = SHARED / "spl-corpus" / "dailymed-rx-dev.zip"
    work = Path(tempfile.mkdtemp(prefix="prefit-bench-corpus-"))
    demo = ROOT / "src" / "prefit" / "demo_data" / "adme_paragraphs.jsonl"
    subprocess.run([str(bindir / "train"), "vanilla", "--train", str(demo), "--eval", str(demo), "--epochs", "1", "--lr", "1e-4",
                    "--max-length", str(args.max_length), "-o", str(work / "run"), "-q"], check=True)
    subprocess.run([str(bindir / "train"), "export", str(work / "run"), "-o", str(work / "export"), "--int8"], check=True)
    parse_s, parse_mb = timed(str(bindir / "score"), str(corpus), "--extract-only", "-o", str(work / "paras.jsonl"), "-q")
    score_s, score_mb = timed(str(bindir / "score"), str(corpus), "--model", str(work / "export"), "-o", str(work / "scored.jsonl"),
                              "--device", "cpu", "--batch-size", str(args.batch_size), "-q")
    n_labels = len(json.loads((work / "scored.jsonl.state.json").read_text())["done"])
    n_paras = sum(1 for _ in open(work / "scored.jsonl"))
    rows = [["parse only (--extract-only)", n_labels, n_paras, round(parse_s, 1), n_labels / parse_s, n_paras / parse_s, round(parse_mb)],
            ["parse + int8 onnxruntime (CPU)", n_labels, n_paras, round(score_s, 1), n_labels / score_s, n_paras / score_s, round(score_mb)]]
    print_table(["run", "labels", "paragraphs", "seconds", "labels/s", "paragraphs/s", "peak MiB"], rows)
    est = 50_000 / (n_labels / score_s) / 3600
    print(f"\nall of DailyMed's ~50,000 prescription labels at this rate, one 2-core machine: about {est:.1f} h (an estimate)")
    write_result("score_corpus", {"machine": machine(), "args": vars(args), "labels": n_labels, "paragraphs": n_paras,
                                  "parse_only": {"seconds": parse_s, "labels_per_s": n_labels / parse_s, "paragraphs_per_s": n_paras / parse_s,
                                                 "peak_rss_mib": parse_mb},
                                  "score_int8_cpu": {"seconds": score_s, "labels_per_s": n_labels / score_s,
                                                     "paragraphs_per_s": n_paras / score_s, "peak_rss_mib": score_mb},
                                  "estimate_hours_50000_labels": est})


if __name__ == "__main__":
    main()
