"""Which parameters train: freezing as named, exception-safe functions.

Shi et al. (2022) pre-finetune only the top encoder layer, the pooler and the classifier.
Parameters are grouped by name for BERT-like models (`<base>.encoder.layer.N.`, `<base>.pooler.`),
DistilBERT (`<base>.transformer.layer.N.`) and anything outside the base model (the head).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import torch

_LAYER = re.compile(r"\.(?:encoder\.layer|transformer\.layer|encoder\.layers|layers)\.(\d+)\.")


def num_layers(model: torch.nn.Module) -> int:
    found = {int(m.group(1)) for name, _ in model.named_parameters() if (m := _LAYER.search("." + name))}
    if not found:
        raise ValueError("could not find numbered encoder layers in this model's parameter names")
    return max(found) + 1


def is_head(name: str, model: torch.nn.Module) -> bool:
    prefix = getattr(model, "base_model_prefix", "")
    return not (prefix and name.startswith(prefix + "."))


def trainable_mask(model: torch.nn.Module, which: str) -> dict[str, bool]:
    """`all`, `head` (classifier only: linear probing), or `top:K` (top K layers + pooler + head)."""
    names = [n for n, _ in model.named_parameters()]
    if which == "all":
        return dict.fromkeys(names, True)
    if which == "head":
        return {n: is_head(n, model) for n in names}
    m = re.fullmatch(r"top:(\d+)", which)
    if not m:
        raise ValueError(f"trainable must be all, head or top:K, found {which!r}")
    k, total = int(m.group(1)), num_layers(model)
    if not 0 <= k <= total:
        raise ValueError(f"top:{k} asked for, but the model has {total} layers")
    out = {}
    for n in names:
        lm = _LAYER.search("." + n)
        out[n] = is_head(n, model) or ".pooler." in "." + n or (lm is not None and int(lm.group(1)) >= total - k)
    return out


def freeze_all_but_top(model: torch.nn.Module, k: int) -> list[str]:
    """Freeze everything except the top k encoder layers, the pooler and the classifier head.
    Returns the names of the parameters left trainable."""
    return apply_trainable(model, f"top:{k}")


def apply_trainable(model: torch.nn.Module, which: str) -> list[str]:
    mask = trainable_mask(model, which)
    for n, p in model.named_parameters():
        p.requires_grad_(mask[n])
    return [n for n, on in mask.items() if on]


@contextlib.contextmanager
def trainable(model: torch.nn.Module, which: str) -> Iterator[list[str]]:
    """Set requires_grad for a stage and restore the previous flags afterwards, even on error."""
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    try:
        yield apply_trainable(model, which)
    finally:
        for n, p in model.named_parameters():
            p.requires_grad_(before[n])
