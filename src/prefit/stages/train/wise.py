"""Weight-space ensembling of a finetuned model with the model it was finetuned from (WiSE-FT).

Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022: the linear interpolation
theta(alpha) = (1 - alpha) * theta_0 + alpha * theta_1 of the weights before (theta_0) and after
(theta_1) full finetuning keeps much of what finetuning distorts in the pretrained features, and
is more accurate under distribution shift than either end, at no cost at inference (one model).

Here theta_0 is the model when the last stage (full finetuning) starts: for two-stage, the encoder
as pretrained with the top layer and head pre-finetuned on the augmented corpus; for LP-FT, the
pretrained encoder with its linear-probe head. alpha = 1 is the plain finetuned model.
"""

from __future__ import annotations

import torch

# The alphas every run of a multi-stage method evaluates (metrics.json "wise"), so that alpha can
# be chosen on a validation split from one training run.
WISE_GRID = (0.25, 0.5, 0.75, 1.0)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the model's weights (theta_0)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def interpolate(theta_0: dict[str, torch.Tensor], theta_1: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    """(1 - alpha) * theta_0 + alpha * theta_1 for every floating-point tensor; other tensors
    (integer buffers such as position ids) are theta_1's."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], found {alpha}")
    if theta_0.keys() != theta_1.keys():
        raise ValueError("theta_0 and theta_1 hold different tensors")
    out = {}
    for k, w1 in theta_1.items():
        w0 = theta_0[k].to(w1.device)
        out[k] = torch.lerp(w0, w1, alpha) if w1.is_floating_point() else w1
    return out
