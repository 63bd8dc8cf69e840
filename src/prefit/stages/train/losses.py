"""Losses for class-imbalanced classification.

- Cross-entropy, optionally with per-class weights.
- Class-balanced weights by the effective number of samples (Cui et al., CVPR 2019,
  "Class-Balanced Loss Based on Effective Number of Samples"): E_n = (1 - beta^n) / (1 - beta),
  w_c proportional to 1 / E_{n_c}, normalised so the weights sum to the number of classes.
- Focal loss (Lin et al., ICCV 2017): FL = -(1 - p_t)^gamma * log p_t (times the class weight).
- LDAM (Cao et al., NeurIPS 2019, "Learning Imbalanced Datasets with Label-Distribution-Aware
  Margin Loss"): subtract a margin Delta_y = C / n_y^(1/4) from the true-class logit, with C set so
  the largest margin is `max_margin`, then scale the logits by `s` before cross-entropy.
- Deferred re-weighting (DRW, same paper): no class weights until epoch `drw_epoch`, then
  class-balanced weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def effective_number_weights(counts: Sequence[int], beta: float = 0.9999) -> torch.Tensor:
    """Cui et al. (2019), eq. (3) and sec. 3.2: w_c = (1 - beta) / (1 - beta^{n_c}), sum(w) = C."""
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), found {beta}")
    n = torch.tensor([max(int(c), 1) for c in counts], dtype=torch.float64)
    effective = (1.0 - torch.pow(beta, n)) / (1.0 - beta) if beta > 0 else torch.ones_like(n)
    w = 1.0 / effective
    return (w / w.sum() * len(counts)).float()


def ldam_margins(counts: Sequence[int], max_margin: float = 0.5) -> torch.Tensor:
    """Cao et al. (2019), eq. (12): Delta_j = C / n_j^{1/4}, largest margin = max_margin."""
    m = 1.0 / torch.tensor([max(int(c), 1) for c in counts], dtype=torch.float64) ** 0.25
    return (m * (max_margin / m.max())).float()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, weight: torch.Tensor | None = None) -> torch.Tensor:
    logp = F.log_softmax(logits.float(), dim=-1)
    logp_t = logp.gather(1, target[:, None]).squeeze(1)
    loss = -((1.0 - logp_t.exp()) ** gamma) * logp_t
    if weight is not None:
        w = weight.to(logits.device)[target]
        return (loss * w).sum() / w.sum()
    return loss.mean()


def ldam_loss(logits: torch.Tensor, target: torch.Tensor, margins: torch.Tensor, scale: float = 30.0,
              weight: torch.Tensor | None = None) -> torch.Tensor:
    onehot = F.one_hot(target, logits.shape[-1]).to(logits.dtype)
    adjusted = logits - onehot * margins.to(logits.device, logits.dtype)[None, :]
    return F.cross_entropy(scale * adjusted.float(), target, weight=None if weight is None else weight.to(logits.device))


@dataclass(frozen=True)
class LossSpec:
    """Which loss a stage trains with. `weights`: none | cb (effective number) | drw (cb from drw_epoch)
    | auto (the method's default, resolved by stages.recipe: cb for two-stage, else none)."""

    name: str = "ce"  # ce | focal | ldam
    weights: str = "none"  # none | cb | drw | auto
    beta: float = 0.9999
    gamma: float = 2.0
    max_margin: float = 0.5
    scale: float = 30.0
    drw_epoch: int = 1  # 0-based epoch from which DRW switches the weights on

    def __post_init__(self) -> None:
        if self.name not in ("ce", "focal", "ldam"):
            raise ValueError(f"loss must be ce, focal or ldam, found {self.name!r}")
        if self.weights not in ("none", "cb", "drw", "auto"):
            raise ValueError(f"class weights must be none, cb, drw or auto, found {self.weights!r}")


class ImbalanceLoss:
    """A loss bound to a stage's class counts; call with (logits, target, epoch)."""

    def __init__(self, spec: LossSpec, counts: Sequence[int]) -> None:
        if spec.weights == "auto":
            raise ValueError("class weights 'auto' must be resolved to a method's default first (stages.recipe)")
        self.spec = spec
        self.cb = effective_number_weights(counts, spec.beta) if spec.weights != "none" else None
        self.margins = ldam_margins(counts, spec.max_margin) if spec.name == "ldam" else None

    def weight_for(self, epoch: int) -> torch.Tensor | None:
        if self.spec.weights == "cb" or (self.spec.weights == "drw" and epoch >= self.spec.drw_epoch):
            return self.cb
        return None

    def __call__(self, logits: torch.Tensor, target: torch.Tensor, epoch: int = 0) -> torch.Tensor:
        w = self.weight_for(epoch)
        if self.spec.name == "focal":
            return focal_loss(logits, target, self.spec.gamma, w)
        if self.spec.name == "ldam":
            return ldam_loss(logits, target, self.margins, self.spec.scale, w)
        return F.cross_entropy(logits.float(), target, weight=None if w is None else w.to(logits.device))
