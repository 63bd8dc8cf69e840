"""How a classifier turns the encoder's last layer into one vector: the checkpoint's own pooling.

Sentence-transformers checkpoints (all-MiniLM-L6-v2, the default encoder) were trained with mean
pooling over the real tokens, declared in `modules.json` -> `1_Pooling/config.json`; their [CLS]
row and BERT pooler never took part in that training. `--pooling auto` reads that declaration and
falls back to the model's own head ([CLS] through the pooler for BERT, position 0 for RoBERTa)
when there is none. The choice is stored in the model's config (`prefit_pooling`), so a saved
run, its ONNX export and `score` all compute the same function.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from prefit.errors import InputError

log = logging.getLogger("prefit")

POOLINGS = ("auto", "cls", "mean")


def local_file(model: str, name: str) -> Path | None:
    """`name` inside a local model directory, or in the local hub cache for a hub id (never downloads)."""
    p = Path(model)
    if p.is_dir():
        return p / name if (p / name).exists() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(model, name)
    except (ImportError, ValueError):
        return None
    return Path(hit) if isinstance(hit, str) else None


def checkpoint_pooling(model: str) -> tuple[str | None, bool]:
    """(pooling, normalize) declared by a sentence-transformers checkpoint, else (None, False).

    pooling is "mean" or "cls"; modes this project does not implement (max, weighted) raise."""
    modules_file = local_file(model, "modules.json")
    if modules_file is None:
        return None, False
    try:
        modules = json.loads(modules_file.read_text())
        pool = next((m for m in modules if m.get("type", "").endswith(".Pooling")), None)
        normalize = any(m.get("type", "").endswith(".Normalize") for m in modules)
        if pool is None:
            return None, normalize
        cfg_file = local_file(model, f"{pool.get('path') or '1_Pooling'}/config.json")
        cfg = json.loads(cfg_file.read_text()) if cfg_file else {"pooling_mode_mean_tokens": True}
    except (OSError, ValueError, AttributeError, TypeError) as e:
        raise InputError(f"unreadable sentence-transformers pooling config: {e}", file=modules_file) from e
    if cfg.get("pooling_mode_mean_tokens"):
        return "mean", normalize
    if cfg.get("pooling_mode_cls_token"):
        return "cls", normalize
    modes = ", ".join(k for k, v in cfg.items() if k.startswith("pooling_mode") and v) or "none"
    raise InputError(f"pooling mode(s) {modes} are not supported; pass `pooling=cls` or `pooling=mean`", file=cfg_file or modules_file)


def resolve_pooling(requested: str, model: str) -> str:
    """The pooling a run uses: `requested` unless it is "auto", then the checkpoint's, else "cls"."""
    if requested not in POOLINGS:
        raise InputError(f"pooling must be one of {', '.join(POOLINGS)}, found {requested!r}")
    if requested != "auto":
        return requested
    declared, _ = checkpoint_pooling(model)
    return declared or "cls"


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the rows of real tokens (sentence-transformers' Pooling, mean mode). (B, T, d) -> (B, d)."""
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


# Classifier class name -> how the head reads the top layer: through the pooler (BERT) or from
# the sequence output's position 0 (RoBERTa-style heads).
_HEADS = {
    "BertForSequenceClassification": "pooler",
    "RobertaForSequenceClassification": "sequence",
    "XLMRobertaForSequenceClassification": "sequence",
    "CamembertForSequenceClassification": "sequence",
}


def head_kind(model: torch.nn.Module) -> str | None:
    """"pooler" (BERT), "sequence" (RoBERTa-style heads), or None for heads prefit does not know."""
    return _HEADS.get(type(model).__name__)


def model_pooling(model: torch.nn.Module) -> str:
    return getattr(model.config, "prefit_pooling", None) or "cls"


def set_pooling(model: torch.nn.Module, pooling: str) -> None:
    """Record `pooling` ("cls" or "mean") in the model's config; mean needs a head prefit knows."""
    if pooling == "mean" and head_kind(model) is None:
        raise InputError(f"`pooling=mean` is not supported for {type(model).__name__}; use `pooling=cls`")
    model.config.prefit_pooling = pooling
