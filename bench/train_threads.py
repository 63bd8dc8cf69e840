"""One training process with every core's thread, or one process per core with one thread each?

A full MiniLM training step (batch × max length random tokens, forward, mean pooling, backward,
AdamW) timed (a) in one process with torch's default threads (one per core), (b) in one process
per core, `OMP_NUM_THREADS=1`, all at once: the sum of their examples/s is what side-by-side
runs (bench/quality.py with two `--work` folders) get together. Run it on an idle machine.

    python bench/train_threads.py [--steps 6] [--batch-size 16] [--max-length 128]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, write_result  # noqa: E402


def worker(steps: int, batch: int, length: int) -> float:
    import torch
    from transformers import AutoModel

    from prefit.model.registry import resolve_encoder

    model = AutoModel.from_pretrained(resolve_encoder(None))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    x = torch.randint(1000, 20000, (batch, length), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(x)

    def step() -> None:
        model(input_ids=x, attention_mask=mask).last_hidden_state.mean(1).sum().backward()
        opt.step()
        opt.zero_grad()

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.steps, args.batch_size, args.max_length)))
        return
    cores = os.cpu_count() or 1
    cmd = [sys.executable, __file__, "--worker", "--steps", str(args.steps), "--batch-size", str(args.batch_size),
           "--max-length", str(args.max_length)]
    def env(threads: int) -> dict:
        return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}

    one = json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env(cores)).stdout)
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env(1)) for _ in range(cores)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("bench/train_threads.py: a 1-thread worker failed (its error is above)")
    each = [json.loads(o) for o in outs]
    rows = [[f"1 process, {cores} threads", round(one, 2), 1.0],
            [f"{cores} processes, 1 thread each (sum)", round(sum(each), 2), round(sum(each) / one, 2)]]
    print_table(["layout", "examples/s", "ratio"], rows)
    write_result("train_threads", {"machine": machine(), "args": vars(args), "one_process": one, "per_process": each,
                                   "ratio": sum(each) / one})


if __name__ == "__main__":
    main()
