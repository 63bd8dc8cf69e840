"""Training speed on 20 Newsgroups text with the packaged all-MiniLM-L6-v2, in one run:

(a) one stage-1 step (top layer + pooler + classifier trainable) / one full step  (goal <= 0.4),
    both as the trainer runs them (top layer for [CLS] only, cls_top.py) and, for reference,
    with the model's own forward (every position through the top layer);
(b) examples/s with length-grouped dynamic padding / padding every batch to the maximum length
    (goal >= 1.5x), at each --max-lengths value, with the ceiling the data allows: padded tokens /
    real tokens (padding cannot save more than the pad tokens it removes, except in attention).

    python bench/train_speed.py [--examples 512] [--steps 8] [--max-lengths 128,512]
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
    ap.add_argument("--examples", type=int, default=512, help="posts sampled for the step timings")
    ap.add_argument("--throughput-examples", type=int, default=256, help="posts per throughput epoch")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128, help="for the step timings (a)")
    ap.add_argument("--max-lengths", default="128,512", help="for the padding comparison (b)")
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from prefit.model.registry import resolve_encoder
    from prefit.stages.train.data import Split
    from prefit.stages.train.loop import train_stage
    from prefit.stages.train.recipes import Stage

    rows = random.Random(0).sample(newsgroups(), args.examples)
    labels = sorted({r["label"] for r in rows})
    path = resolve_encoder(None)
    tok = AutoTokenizer.from_pretrained(path)
    texts = [" ".join(body(r["text"]).split()) for r in rows]
    y = [labels.index(r["label"]) for r in rows]
    dev = torch.device("cpu")

    def model(pooling: str = "cls"):
        from prefit.model.pooling import set_pooling

        torch.manual_seed(0)
        m = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels))
        set_pooling(m, pooling)
        return m

    ids = tok(texts, truncation=True, max_length=args.max_length)["input_ids"]

    def step_times(trainable: str, cls_only: bool, pooling: str = "cls") -> list[float]:
        """Seconds per optimizer step on identical fixed-length batches (max length, no grouping)."""
        m = model(pooling)
        n = args.steps
        sub = Split("bench", [], y[: n * args.batch_size], ids[: n * args.batch_size])
        stage = Stage("bench", "train", trainable, 1e-5, 1, batch_size=args.batch_size)
        t = []
        for _ in range(3):
            t0 = time.perf_counter()
            train_stage(m, stage, sub, len(labels), tok.pad_token_id, dev, seed=0, group_by_length=False, pad_to=args.max_length,
                        progress=False, cls_only=cls_only)
            t.append((time.perf_counter() - t0) / n)
        return t

    steps = {(w, c): step_times(w, c) for c in (True, False) for w in ("all", "top:1")}
    steps |= {(w, "mean"): step_times(w, False, "mean") for w in ("all", "top:1")}  # mean pooling reads every row
    med = {k: statistics.median(v) for k, v in steps.items()}
    ratio = med[("top:1", True)] / med[("all", True)]
    ratio_ref = med[("top:1", False)] / med[("all", False)]

    def throughput(ids_: list[list[int]], group: bool, pad_to: int | None) -> float:
        m = model()
        n = args.throughput_examples
        split = Split("bench", [], y[:n], ids_[:n])
        t0 = time.perf_counter()
        train_stage(m, Stage("bench", "train", "all", 1e-5, 1, batch_size=args.batch_size), split, len(labels), tok.pad_token_id, dev,
                    seed=0, group_by_length=group, pad_to=pad_to, progress=False)
        return n / (time.perf_counter() - t0)

    padding = {}
    for ml in (int(x) for x in args.max_lengths.split(",")):
        ids_ml = tok(texts, truncation=True, max_length=ml)["input_ids"]
        real = sum(len(x) for x in ids_ml[: args.throughput_examples])
        grouped, padded = throughput(ids_ml, True, None), throughput(ids_ml, False, ml)
        padding[ml] = {"examples_per_s_dynamic": grouped, "examples_per_s_padded": padded, "dynamic_over_padded": grouped / padded,
                       "token_ceiling": ml * min(len(ids_ml), args.throughput_examples) / real}

    print(f"\nall-MiniLM-L6-v2, batch {args.batch_size}, 20 Newsgroups posts (headers removed), CPU, torch threads {torch.get_num_threads()}")
    print(f"\n(a) seconds per step, max length {args.max_length}, median of 3 x {args.steps} steps")
    print_table(["forward", "full step", "stage-1 step", "stage-1 / full", "goal"], [
        ["[CLS] pooling, top layer for [CLS] only", med[("all", True)], med[("top:1", True)], ratio, "<= 0.4"],
        ["[CLS] pooling, model's own forward", med[("all", False)], med[("top:1", False)], ratio_ref, ""],
        ["mean pooling (default encoder's default)", med[("all", "mean")], med[("top:1", "mean")],
         med[("top:1", "mean")] / med[("all", "mean")], ""],
    ])
    print(f"mean pooling costs {med[('all', 'mean')] / med[('all', True)]:.2f}x a [CLS]-only full step and "
          f"{med[('top:1', 'mean')] / med[('top:1', True)]:.2f}x a [CLS]-only stage-1 step")
    print(f"\n(b) full finetuning, {args.throughput_examples} posts, one epoch each")
    print_table(["max length", "padded ex/s", "dynamic ex/s", "dynamic / padded", "ceiling (padded / real tokens)", "goal"],
                [[ml, v["examples_per_s_padded"], v["examples_per_s_dynamic"], v["dynamic_over_padded"], v["token_ceiling"], ">= 1.5"]
                 for ml, v in padding.items()])
    write_result("train_speed", {"args": vars(args), "machine": machine(),
                                 "step_seconds": {f"{w}|{'mean_pooling' if c == 'mean' else 'cls_only' if c else 'full_forward'}": v
                                                  for (w, c), v in steps.items()},
                                 "mean_pooling_over_cls_only": {"full": med[("all", "mean")] / med[("all", True)],
                                                                "stage1": med[("top:1", "mean")] / med[("top:1", True)]},
                                 "stage1_over_full": ratio, "stage1_over_full_model_forward": ratio_ref, "padding": padding,
                                 "goals": {"stage1_over_full<=0.4": ratio <= 0.4,
                                           "dynamic_over_padded>=1.5": {ml: v["dynamic_over_padded"] >= 1.5 for ml, v in padding.items()}}})


if __name__ == "__main__":
    main()
