"""Run one method for one seed and write a complete run directory.

RUN_DIR/
  model/          save_pretrained weights + tokenizer + label_map.json
  metrics.json    evaluation metrics (metrics.py), training history, timings
  config.json     every setting, the resolved model, package versions
  train.log       the log of the run
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prefit.errors import InputError
from prefit.jsonl import Fields, write_json_atomic
from prefit.train.stages import RecipeOptions, recipe

log = logging.getLogger("prefit")


@dataclass(frozen=True)
class RunConfig:
    method: str
    train: str
    eval: str
    output: str
    augmented: str | None = None
    model: str | None = None  # None: the packaged all-MiniLM-L6-v2
    seed: int = 42
    max_length: int = 128
    pooling: str = "auto"  # auto | cls | mean (pooling.py)
    device: str = "auto"
    fields: Fields = Fields()
    recipe: RecipeOptions = field(default_factory=RecipeOptions)
    group_by_length: bool = True
    overwrite: bool = False
    progress: bool = True
    cache_dir: str | None = None  # probe: embeddings cached by content (compare sets it)


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for p in ("prefit", "torch", "transformers", "tokenizers", "numpy"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def load_tokenizer(name: str | None):
    """Resolve the encoder name once and load its tokenizer; returns (tokenizer, resolved path)."""
    from transformers import AutoTokenizer

    from prefit.models import resolve_encoder

    path = resolve_encoder(name)
    try:
        return AutoTokenizer.from_pretrained(path), path
    except OSError as e:
        raise InputError(f"could not load model {name or path!r}: {e}".splitlines()[0]) from e


def load_model(path: str, labels: list[str]):
    from transformers import AutoModelForSequenceClassification

    try:
        return AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={lab: i for i, lab in enumerate(labels)},
            ignore_mismatched_sizes=True)
    except OSError as e:
        raise InputError(f"could not load model {path!r}: {e}".splitlines()[0]) from e


def run(cfg: RunConfig) -> dict:
    import torch

    from prefit.train.data import load_split, oversample
    from prefit.train.loop import predict, resolve_device, seed_everything, train_stage
    from prefit.train.metrics import classification_metrics
    from prefit.train.pooling import resolve_pooling, set_pooling

    out = Path(cfg.output)
    if (out / "metrics.json").exists() and not cfg.overwrite:
        raise InputError("run directory already holds a finished run; use --overwrite to replace it", file=out)
    from prefit.train.peers import PEERS, run_peer

    stages = [] if cfg.method in PEERS else recipe(cfg.method, cfg.recipe)
    if any(s.data == "augmented" for s in stages) and not cfg.augmented:
        raise InputError("two-stage needs --augmented AUG.jsonl (make one with 'aug backtranslate' or 'aug eda')")
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "train.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    level = log.level
    if level == logging.NOTSET or level > logging.INFO:
        log.setLevel(logging.INFO)  # train.log is complete even when used as a library
    try:
        t_start = time.perf_counter()
        seed_everything(cfg.seed)
        if cfg.method in PEERS:
            train, labels = load_split(cfg.train, cfg.fields, None, None, cfg.max_length)
            evals, _ = load_split(cfg.eval, cfg.fields, labels, None, cfg.max_length)
            metrics = run_peer(cfg, out, train, evals, labels)
            log.info("eval: micro-F1 %.4f, macro-F1 %.4f, non-majority micro-F1 %.4f", metrics["micro_f1"], metrics["macro_f1"],
                     metrics["non_majority_micro_f1"])
            return metrics
        # Labels come from the training data; load the tokenizer first to encode every split once.
        from prefit.train.data import LabelMap

        tok, path = load_tokenizer(cfg.model)
        train, labels = load_split(cfg.train, cfg.fields, None, tok, cfg.max_length)
        evals, _ = load_split(cfg.eval, cfg.fields, labels, tok, cfg.max_length)
        aug = load_split(cfg.augmented, cfg.fields, LabelMap(labels.labels), tok, cfg.max_length)[0] if cfg.augmented else None
        seed_everything(cfg.seed)
        model = load_model(path, labels.labels)
        pooling = resolve_pooling(cfg.pooling, path)
        set_pooling(model, pooling)
        device = resolve_device(cfg.device)
        model.to(device)
        k = len(labels.labels)
        log.info("method %s, seed %d, model %s (%s pooling), %d classes, %d train / %d eval examples%s, device %s", cfg.method, cfg.seed,
                 path, pooling, k, len(train.y), len(evals.y), f" / {len(aug.y)} augmented" if aug else "", device)
        data = {"train": train, "augmented": aug, "oversampled": oversample(train, cfg.seed) if any(s.data == "oversampled" for s in stages) else None}
        history = []
        for i, stage in enumerate(stages):
            history.append(train_stage(model, stage, data[stage.data], k, tok.pad_token_id, device, seed=cfg.seed * 100 + i,
                                       group_by_length=cfg.group_by_length, progress=cfg.progress))
        preds, _ = predict(model, evals, tok.pad_token_id, device)
        metrics = classification_metrics(evals.y, preds, labels.labels, train.counts(k))
        metrics.update(method=cfg.method, seed=cfg.seed, history=history, seconds=round(time.perf_counter() - t_start, 2))
        model.save_pretrained(out / "model")
        tok.save_pretrained(out / "model")
        write_json_atomic(out / "model" / "label_map.json", {"labels": labels.labels, "max_length": cfg.max_length, "pooling": pooling})
        write_json_atomic(out / "config.json", {"run": asdict(cfg), "resolved_model": path, "pooling": pooling, "stages": [asdict(s) for s in stages],
                                                 "device": str(device), "versions": package_versions(),
                                                 "torch_threads": torch.get_num_threads()})
        write_json_atomic(out / "metrics.json", metrics)  # last: its presence marks a finished run
        log.info("eval: micro-F1 %.4f, macro-F1 %.4f, non-majority micro-F1 %.4f", metrics["micro_f1"], metrics["macro_f1"],
                 metrics["non_majority_micro_f1"])
        return metrics
    finally:
        log.setLevel(level)
        log.removeHandler(handler)
        handler.close()


def load_metrics(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())
