"""Training speed on 20 Newsgroups text with the packaged all-MiniLM-L6-v2, in one run:

(a) one stage-1 step (top layer + pooler + classifier trainable) / one full step  (goal <= 0.4)
(b) examples/s with length-grouped dynamic padding / padding every batch to max length (goal >= 1.5x)

    python bench/train_speed.py [--examples 512] [--steps 8] [--max-length 128]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import body, machine, newsgroups, print_table, write_result  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=512)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from prefit.models import resolve_encoder
    from prefit.train.data import Split
    from prefit.train.loop import train_stage
    from prefit.train.stages import Stage

    rows = random.Random(0).sample(newsgroups(), args.examples)
    labels = sorted({r["label"] for r in rows})
    path = resolve_encoder(None)
    tok = AutoTokenizer.from_pretrained(path)
    ids = tok([" ".join(body(r["text"]).split()) for r in rows], truncation=True, max_length=args.max_length)["input_ids"]
    y = [labels.index(r["label"]) for r in rows]
    dev = torch.device("cpu")

    def model():
        torch.manual_seed(0)
        return AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels))

    def step_times(trainable: str, n: int) -> list[float]:
        """Seconds per optimizer step on identical fixed-length batches (max length, no grouping)."""
        m = model()
        sub = Split("bench", [], y[: n * args.batch_size], ids[: n * args.batch_size])
        stage = Stage("bench", "train", trainable, 1e-5, 1, batch_size=args.batch_size)
        t = []
        for _ in range(3):
            t0 = time.perf_counter()
            train_stage(m, stage, sub, len(labels), tok.pad_token_id, dev, seed=0, group_by_length=False, pad_to=args.max_length, progress=False)
            t.append((time.perf_counter() - t0) / n)
        return t

    full = step_times("all", args.steps)
    top = step_times("top:1", args.steps)
    ratio = statistics.median(top) / statistics.median(full)

    def throughput(group: bool, pad_to: int | None) -> float:
        m = model()
        split = Split("bench", [], y, ids)
        t0 = time.perf_counter()
        train_stage(m, Stage("bench", "train", "all", 1e-5, 1, batch_size=args.batch_size), split, len(labels), tok.pad_token_id, dev,
                    seed=0, group_by_length=group, pad_to=pad_to, progress=False)
        return len(y) / (time.perf_counter() - t0)

    grouped = throughput(True, None)
    padded = throughput(False, args.max_length)
    print(f"\nall-MiniLM-L6-v2, batch {args.batch_size}, max length {args.max_length}, {args.examples} 20 Newsgroups posts, CPU")
    print_table(["measure", "value", "goal"], [
        ["full step (s, median)", statistics.median(full), ""],
        ["stage-1 step (s, median)", statistics.median(top), ""],
        ["stage-1 / full step", ratio, "<= 0.4"],
        ["examples/s, padded to max length", padded, ""],
        ["examples/s, length-grouped dynamic padding", grouped, ""],
        ["dynamic / padded", grouped / padded, ">= 1.5"],
    ])
    write_result("train_speed", {"args": vars(args), "machine": machine(), "full_step_s": full, "stage1_step_s": top,
                                 "stage1_over_full": ratio, "examples_per_s_padded": padded, "examples_per_s_dynamic": grouped,
                                 "dynamic_over_padded": grouped / padded,
                                 "goals": {"stage1_over_full<=0.4": ratio <= 0.4, "dynamic_over_padded>=1.5": grouped / padded >= 1.5}})


if __name__ == "__main__":
    main()
