"""Scoring speed: PyTorch eager fp32 vs ONNX Runtime fp32 and int8, in one run, on CPU.

The competitor is the model's own PyTorch forward (`model(**enc).logits`). The export computes the
top layer for [CLS] only (prefit.model.cls_top); the row "pytorch-eager-fp32-cls-only" runs that
same trick in PyTorch, to show how much of the gain is the trick and how much onnxruntime/int8.

Paragraphs: the PK paragraphs of the shared SPL labels, repeated to >= --paragraphs. Model: the
packaged all-MiniLM-L6-v2 with a 5-label head (ADME + Other) trained as a linear probe (10 epochs,
lr 1e-3) on the paragraphs' heading-derived labels (an untrained head leaves near-ties that any
rounding flips), saved as a run directory and exported with `train export --int8`. Same batches (32, sorted by length, max length 128) for all.

    python bench/score_speed.py [--paragraphs 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, machine, median_time, print_table, write_result  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paragraphs", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from prefit.model.cls_top import classify
    from prefit.model.onnx import OnnxBackend
    from prefit.model.registry import resolve_encoder
    from prefit.spl.parse import iter_pk_paragraphs, parse
    from prefit.stages.export.onnx_export import export

    paras = [p for f in sorted((SHARED / "spl").glob("*.xml")) for p in iter_pk_paragraphs(parse(f)[1])]
    base = [p.text for p in paras]
    texts = (base * (args.paragraphs // len(base) + 1))[: args.paragraphs]
    labels = ["Absorption", "Distribution", "Metabolism", "Excretion", "Other"]
    work = Path(tempfile.mkdtemp(prefix="prefit-bench-score-"))
    torch.manual_seed(0)
    path = resolve_encoder(None)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=5, id2label=dict(enumerate(labels))).eval()
    tok = AutoTokenizer.from_pretrained(path)
    from prefit.spl.parse import adme_label
    from prefit.stages.train.data import Split
    from prefit.stages.train.loop import train_stage
    from prefit.stages.train.recipes import Stage

    probe = Split("probe", [], [labels.index(adme_label(p.heading)) for p in paras], tok(base, truncation=True, max_length=128)["input_ids"])
    train_stage(model, Stage("probe", "train", "head", 1e-3, 10, batch_size=16), probe, 5, tok.pad_token_id, torch.device("cpu"), seed=0,
                progress=False)
    model.eval()
    (work / "run" / "model").mkdir(parents=True)
    model.save_pretrained(work / "run" / "model")
    tok.save_pretrained(work / "run" / "model")
    (work / "run" / "model" / "label_map.json").write_text(json.dumps({"labels": labels, "max_length": 128}))
    meta = export(work / "run", work / "export", int8=True, texts=base[:64])

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))

    @torch.no_grad()
    def torch_probs(cls_only: bool = False):
        out = np.zeros((len(texts), 5), dtype="float32")
        for s in range(0, len(order), args.batch_size):
            idx = order[s : s + args.batch_size]
            enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
            logits = classify(model, enc.pop("input_ids"), enc.pop("attention_mask"), **enc) if cls_only else model(**enc).logits
            out[idx] = logits.softmax(-1).numpy()
        return out

    def torch_cls_probs():
        return torch_probs(cls_only=True)

    ref = torch_probs()
    rows, results = [], {}
    med, times = median_time(torch_probs, args.repeats)
    results["pytorch-eager-fp32"] = {"median_s": med, "times_s": times, "paragraphs_per_s": len(texts) / med, "agreement": 1.0}
    agree = float((torch_cls_probs().argmax(-1) == ref.argmax(-1)).mean())
    med, times = median_time(torch_cls_probs, args.repeats)
    results["pytorch-eager-fp32-cls-only"] = {"median_s": med, "times_s": times, "paragraphs_per_s": len(texts) / med, "agreement": agree}
    for variant in ("fp32", "int8"):
        sc = OnnxBackend(work / "export", "cpu", variant)
        agree = float((sc.probabilities(texts, args.batch_size).argmax(-1) == ref.argmax(-1)).mean())
        med, times = median_time(lambda sc=sc: sc.probabilities(texts, args.batch_size), args.repeats)
        results[f"onnxruntime-{variant}"] = {"median_s": med, "times_s": times, "paragraphs_per_s": len(texts) / med, "agreement": agree}
    b = results["pytorch-eager-fp32"]["paragraphs_per_s"]
    for k, v in results.items():
        v["ratio_vs_pytorch"] = v["paragraphs_per_s"] / b
        rows.append([k, len(texts), v["median_s"], v["paragraphs_per_s"], v["ratio_vs_pytorch"], v["agreement"]])
    print(f"\n{len(texts)} SPL PK paragraphs ({len(base)} distinct), batch {args.batch_size}, max length 128, CPU, torch threads {torch.get_num_threads()}")
    print_table(["engine", "paragraphs", "median s", "paragraphs/s", "x PyTorch", "argmax agreement"], rows)
    i8 = results["onnxruntime-int8"]
    write_result("score_speed", {"args": vars(args), "machine": machine(), "results": results, "export_parity": meta["parity"],
                                 "goal": "int8 >= 2.5x PyTorch with >= 99% agreement",
                                 "met": i8["ratio_vs_pytorch"] >= 2.5 and i8["agreement"] >= 0.99})


if __name__ == "__main__":
    main()
