"""ONNX export of a trained classifier, with parity checks against PyTorch.

EXPORT_DIR/ model.onnx (fp32), model.int8.onnx (--int8: dynamic int8 quantization for CPU),
model.fp16.onnx (--fp16: for CUDA; LayerNorm/Softmax kept in fp32), tokenizer files, config.json
(the model's Hugging Face config: its id2label is the one place that stores the labels, so
transformers' AutoConfig and Optimum's ORTModelForSequenceClassification load the folder), and
metadata.json (source run, pooling, max length, reading (windows.py), versions, parity numbers of
every variant).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from prefit.errors import InputError

log = logging.getLogger("prefit")

# Parity limits. fp32 must match closely; quantized variants are judged by argmax agreement.
# int8 passes on either test: a near-tie can flip its argmax with a tiny logit difference.
LIMITS = {"fp32": {"max_abs_diff": 1e-3, "agreement": 1.0, "either": False},
          "int8": {"max_abs_diff": 5e-2, "agreement": 0.95, "either": True},
          "fp16": {"max_abs_diff": 5e-2, "agreement": 0.98, "either": False}}

SAMPLE_TEXTS = [
    "The drug is rapidly absorbed after oral administration; peak plasma concentrations occur within 2 hours.",
    "It is extensively metabolized in the liver by CYP3A4 to inactive metabolites.",
    "Approximately 60% of the dose is excreted in urine as unchanged drug.",
    "The volume of distribution is 1.2 L/kg and plasma protein binding is 95%.",
    "No dose adjustment is needed in patients with mild renal impairment.",
    "Food does not affect the bioavailability.",
]


@dataclass
class Parity:
    variant: str
    max_abs_diff: float
    argmax_agreement: float
    n: int
    ok: bool


def _inputs(tok, texts: list[str], max_length: int) -> dict:
    enc = tok(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")
    return {k: v.astype("int64") for k, v in enc.items()}


def check_parity(onnx_path: Path, variant: str, torch_logits, feeds: dict, tolerance: float | None = None) -> Parity:
    """`tolerance` replaces the variant's max |logit diff| limit (LIMITS)."""
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    out = sess.run(["logits"], {k: v for k, v in feeds.items() if k in names})[0].astype("float32")
    if out.shape != torch_logits.shape:
        raise RuntimeError(f"{variant}: logits shape {out.shape} != PyTorch {torch_logits.shape}")
    diff = float(np.abs(out - torch_logits).max())
    agree = float((out.argmax(-1) == torch_logits.argmax(-1)).mean())
    lim = LIMITS[variant] | ({"max_abs_diff": tolerance} if tolerance is not None else {})
    ok = (agree >= lim["agreement"]) or (diff <= lim["max_abs_diff"]) if lim["either"] else (
        agree >= lim["agreement"] and diff <= lim["max_abs_diff"])
    return Parity(variant, diff, agree, int(out.shape[0]), ok)


def export(run_dir: str | Path, out_dir: str | Path, *, int8: bool = False, fp16: bool = False, texts: list[str] | None = None,
           force: bool = False, opset: int = 17, parity_tolerance: float | None = None) -> dict:
    """Export RUN_DIR's classifier to OUT_DIR. The fp32 model must pass its parity check or nothing
    is written; an int8 or fp16 variant that fails its check is left out, and metadata.json
    ("not_written") says which and why.

    The graph computes the top layer for [CLS] only where the architecture allows it
    (prefit.model.cls_top; the same logits, ~11% less work for a 6-layer encoder), with eager
    attention, which onnxruntime runs faster than the exported SDPA graph (both measured on CPU)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from prefit.model.cls_top import classify, supports
    from prefit.model.folder import check_run, max_length_of
    from prefit.model.pooling import model_pooling
    from prefit.model.windows import DEFAULT_MAX_WINDOWS

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    model_dir = run_dir / "model" if (run_dir / "model").is_dir() else run_dir
    label_map = check_run(run_dir, model_dir)
    out_abs, run_abs = out_dir.resolve(), run_dir.resolve()
    if out_abs == run_abs or run_abs in out_abs.parents or out_abs in run_abs.parents:
        raise InputError(f"the export directory would replace or hold the run {run_dir}; choose another output", file=out_dir)
    if out_dir.exists() and not force:
        raise InputError("export directory exists; use `overwrite=True` to replace it", file=out_dir)
    from prefit.model.hf_layout import weights_variant
    from prefit.model.registry import SAFE_MODEL, SAFE_TOKENIZER, load_error, load_errors

    max_length = max_length_of(label_map, model_dir / "label_map.json", 128, model_dir=model_dir)
    from prefit.model.blend import saved_blend
    from prefit.model.folder import reading

    # what `score --model EXPORT` will check, checked before exporting: the reading and the blend
    reading(label_map, model_dir / "label_map.json")
    saved_blend(model_dir, label_map, len(label_map["labels"]), model_dir / "label_map.json")
    try:
        tok = AutoTokenizer.from_pretrained(model_dir, **SAFE_TOKENIZER)
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, variant=weights_variant(model_dir), attn_implementation="eager",
                                                                   **SAFE_MODEL).eval()
    except load_errors() as e:
        raise load_error(model_dir, "run's model", e) from e
    run_texts = [] if texts else _run_texts(run_dir)
    if not texts and not run_texts:
        log.warning("parity check on %d built-in sample texts: the run's evaluation file is not readable", len(SAMPLE_TEXTS))
    feeds = _inputs(tok, texts or run_texts or SAMPLE_TEXTS, max_length)
    parity_texts = "given" if texts else "run's data file" if run_texts else "built-in samples"
    input_names = list(feeds)  # exactly what the tokenizer produces (token_type_ids for BERT)
    with torch.no_grad():
        # The reference is the model's computation as trained (its pooling), on the full top layer.
        t = {k: torch.from_numpy(v) for k, v in feeds.items()}
        ref = classify(model, t.pop("input_ids"), t.pop("attention_mask"), cls_only=False, **t).float().numpy()

    from prefit.jsonl import atomic_dir
    from prefit.resume import job_lock

    # Built in a hidden sibling and moved into place only when fp32 passed its parity check; one
    # export per folder at a time, and what a killed export left (.EXPORT.*.tmp) is removed first.
    with job_lock(out_dir), atomic_dir(out_dir, overwrite=True) as tmp:
        fp32 = tmp / "model.onnx"

        class Wrapper(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, *args):
                inputs = dict(zip(input_names, args, strict=True))
                return classify(self.m, inputs.pop("input_ids"), inputs.pop("attention_mask"), **inputs)

        dyn = {n: {0: "batch", 1: "sequence"} for n in input_names} | {"logits": {0: "batch"}}
        import warnings

        with warnings.catch_warnings():
            # The TorchScript exporter is chosen on purpose (dynamo=False: it handles the [CLS]-only top layer); its
            # deprecation notice is not for our users.
            warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export", category=DeprecationWarning)
            torch.onnx.export(Wrapper(model), tuple(torch.from_numpy(feeds[n]) for n in input_names), str(fp32), input_names=input_names,
                              output_names=["logits"], dynamic_axes=dyn, opset_version=opset, dynamo=False)
        results = [check_parity(fp32, "fp32", ref, feeds, parity_tolerance)]
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Plain graph, not onnxruntime's fused Attention: measured slower after int8 (bench/score_speed.py).
            quantize_dynamic(str(fp32), str(tmp / "model.int8.onnx"), weight_type=QuantType.QInt8)
            results.append(check_parity(tmp / "model.int8.onnx", "int8", ref, feeds, parity_tolerance))
        if fp16:
            import onnx
            from onnxruntime.transformers.float16 import convert_float_to_float16

            m16 = convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True,
                                           op_block_list=["LayerNormalization", "Softmax", "ReduceMean", "Pow", "Sqrt", "Erf"])
            _drop_duplicate_casts(m16.graph)
            onnx.save(m16, str(tmp / "model.fp16.onnx"))
            results.append(check_parity(tmp / "model.fp16.onnx", "fp16", ref, feeds, parity_tolerance))
        def why(r: Parity) -> str:
            lim = LIMITS[r.variant] | ({"max_abs_diff": parity_tolerance} if parity_tolerance is not None else {})
            return f"{r.variant}: max |logit diff| {r.max_abs_diff:.2e}, argmax agreement {r.argmax_agreement:.3f} (limits {lim})"

        if not results[0].ok:
            raise RuntimeError("parity check failed: " + why(results[0]))
        not_written = {r.variant: why(r) for r in results[1:] if not r.ok}
        for variant in not_written:  # what passed is written; a failed variant is left out, and said so
            (tmp / f"model.{variant}.onnx").unlink()
        tok.save_pretrained(tmp)
        model.config.save_pretrained(tmp)
        from prefit.model.blend import PEER_DIR

        tfidf_weight = label_map.get("tfidf_weight", 0.0)
        if tfidf_weight:  # the blended TF-IDF peer travels with the model (blend.py)
            import shutil

            shutil.copytree(model_dir / PEER_DIR, tmp / PEER_DIR)
        from prefit.jsonl import write_json_atomic
        from prefit.stages.train.provenance import package_versions

        meta = {"source_run": str(run_dir.resolve()), "inputs": input_names, "max_length": max_length, "parity_texts": parity_texts,
                "opset": opset, "pooling": model_pooling(model),
                "read": label_map.get("read", "first"), "max_windows": label_map.get("max_windows", DEFAULT_MAX_WINDOWS), "top_layer_cls_only": supports(model), "tfidf_weight": tfidf_weight, "parity": [asdict(r) for r in results], "not_written": not_written, "versions": package_versions() | _ort_version()}
        write_json_atomic(tmp / "metadata.json", meta)
    return meta


def _drop_duplicate_casts(graph) -> None:
    """convert_float_to_float16 inserts one Cast per (tensor, consumer): a tensor read by two
    operators kept in fp32 gets two identical Casts defining one name, which onnxruntime rejects.
    Identical nodes compute the same thing; keep the first."""
    seen: set[tuple] = set()
    keep = []
    for node in graph.node:
        key = (node.op_type, node.domain, tuple(node.input), tuple(node.output), tuple(a.SerializeToString() for a in node.attribute))
        if key not in seen:
            seen.add(key)
            keep.append(node)
    if len(keep) != len(graph.node):
        del graph.node[:]
        graph.node.extend(keep)


def _run_texts(run_dir: Path, n: int = 64) -> list[str]:
    """Real inputs for the parity check: up to n texts of the run's evaluation file (its training
    file when it was trained without one), if it is still there."""
    try:
        from prefit.stages.train.provenance import settings_file

        cfg = json.loads(settings_file(run_dir).read_text())
        from prefit.jsonl import Fields, iter_records

        f = cfg["run"]["fields"]
        out = []
        for r in iter_records(cfg["run"]["eval"] or cfg["run"]["train"], Fields(f["text"], f["label"]), require_label=False):
            out.append(r.text)
            if len(out) >= n:
                break
        return out
    except (OSError, KeyError, TypeError, ValueError, InputError):
        return []


def _ort_version() -> dict:
    import onnxruntime

    return {"onnxruntime": onnxruntime.__version__}
