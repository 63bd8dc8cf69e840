"""Does a model finetuned at 128 tokens gain from reading the rest of the post? Validation split only.

Loads a finished selection run of bench/quality.py (trained on the selection split's training
part, `--max-length 128`) and scores the validation part four ways: the first 128 tokens (what
`train compare` measures; reproduces the run's own macro-F1), the first 256 tokens, and the whole
post cut into consecutive 126-word-piece windows, each with [CLS] and [SEP], the post's logits
(or probabilities) the mean over its windows (prefit.model.windows, which `train --read windows`,
the default since 2026-12-02, and `score` use). Nothing is retrained.

    python bench/window_exploration.py RUN_DIR --eval VAL.jsonl --train TRAIN.jsonl [-o NAME]
    # e.g. RUN_DIR = bench/results/quality_work/longtail/compare/selection/two-stage+cb/lr-0.0001__proxy-epochs-1
    #      VAL/TRAIN = bench/results/quality_work/longtail/compare/selection/split/{val,train}.jsonl

`--logit-adjust 0,0.5,1` also scores each reading after post-hoc logit adjustment (Menon et
al., ICLR 2021): the logits minus tau * log(training-class prior), which undoes a classifier's
remaining lean toward the classes it saw most; tau 0 is the reading as is.

Choose a reading on a validation split; `--modes first-128,windows-logits` on a seed run with
`--eval test.jsonl` then confirms the chosen one on held-out data (first-128 reproduces the run's
own metrics.json).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np
import torch
from _common import machine, print_table, write_result

from prefit.jsonl import iter_objects
from prefit.stages.train.metrics import classification_metrics

MODES = {"first-128": ("first 128 tokens", 128, None), "first-256": ("first 256 tokens", 256, None),
         "windows-logits": ("128-token windows, mean logits", 128, "logits"),
         "windows-probs": ("128-token windows, mean probabilities", 128, "probs")}


def main() -> None:
    from transformers import AutoTokenizer

    from prefit.model.pooling import set_pooling
    from prefit.model.windows import per_text, softmax, window_ids, window_logits
    from prefit.stages.train.loop import _forward
    from prefit.stages.train.run import load_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--eval", required=True, help="records to score (a validation split while choosing)")
    ap.add_argument("--train", required=True, help="the run's training file (its label counts define the minority classes)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    ap.add_argument("--logit-adjust", default="0", help="comma-separated tau values (0: none)")
    ap.add_argument("-o", "--output", default="window_exploration", help="name of the JSON under bench/results")
    args = ap.parse_args()
    lm = json.loads(open(f"{args.run_dir}/model/label_map.json").read())
    labels = lm["labels"]
    tok = AutoTokenizer.from_pretrained(f"{args.run_dir}/model")
    model = load_model(f"{args.run_dir}/model", labels)
    set_pooling(model, lm["pooling"])
    model.eval()
    val = [obj for _, obj in iter_objects(args.eval)]
    train_counts = Counter(obj["label"] for _, obj in iter_objects(args.train))
    counts = [train_counts[lab] for lab in labels]
    y = [labels.index(r["label"]) for r in val]
    texts = [r["text"] for r in val]
    log_prior = np.log(np.asarray(counts, dtype=np.float64) / sum(counts))
    taus = [float(t) for t in args.logit_adjust.split(",")]

    @torch.no_grad()
    def logits_of(ids, mask):
        return _forward(model, torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()

    out, rows = {}, []
    for key in args.modes.split(","):
        name, n, mode = MODES[key]
        t = time.perf_counter()
        # prefit.model.windows: the same windows and mean logits as `train`'s evaluation and `score`
        seqs, owner = window_ids(tok, texts, n, 10_000 if mode else 1)
        lg = window_logits(seqs, tok.pad_token_id, logits_of)
        agg = per_text(softmax(lg) if mode == "probs" else lg, owner, len(texts), "windows")
        seconds = time.perf_counter() - t
        for tau in taus:
            # probabilities are adjusted in log space, the same correction
            scores = (np.log(agg) if mode == "probs" else agg) - tau * log_prior
            m = classification_metrics(y, scores.argmax(-1).tolist(), labels, counts)
            label = name if tau == 0 else f"{name}, logit-adjusted tau {tau:g}"
            out[label] = {k: m[k] for k in ("macro_f1", "micro_f1", "non_majority_micro_f1", "minority_mean_f1")}
            out[label].update(windows=len(seqs), seconds=seconds, tau=tau)
            rows.append([label, len(seqs), m["macro_f1"], m["non_majority_micro_f1"], m["minority_mean_f1"], seconds])
    print_table(["reads", "windows", "macro-F1", "non-majority micro-F1", "minority-class mean F1", "seconds"], rows)
    write_result(args.output, {"what": __doc__.splitlines()[0], "run": args.run_dir, "eval": args.eval, "train": args.train,
                               "machine": machine(), "results": out})


if __name__ == "__main__":
    main()
