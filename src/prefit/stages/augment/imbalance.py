"""Imbalanced benchmark sets from a balanced corpus (Buda et al., 2018; Cao et al., 2019).

Imbalance ratio rho = min class size / max class size.
- step: half of the classes (floor(n/2)), chosen by seed or given, are minority classes and keep
  round(rho * their size) records; the others keep all of theirs.
- longtail: with classes in a seeded order, class i keeps round(max * rho**(i / (n - 1))) records
  (capped at its own size), max being the largest class size.
Records kept within a class are a seeded sample; output order follows the input.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from prefit.jsonl import indices_by


@dataclass
class ImbalancePlan:
    kind: str
    ratio: float
    keep: dict[str, int]
    minority: list[str]
    order: list[str]


def plan_imbalance(counts: dict[str, int], kind: str, ratio: float, seed: int, minority: Sequence[str] | None = None) -> ImbalancePlan:
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], found {ratio}")
    labels = sorted(counts)
    rng = random.Random(seed)
    if kind == "step":
        if minority:
            unknown = [m for m in minority if m not in counts]
            if unknown:
                raise ValueError(f"--minority names unknown classes: {', '.join(unknown)}")
            chosen = sorted(minority)
        else:
            chosen = sorted(rng.sample(labels, len(labels) // 2))
        keep = {c: (max(1, round(ratio * counts[c])) if c in chosen else counts[c]) for c in labels}
        return ImbalancePlan(kind, ratio, keep, chosen, labels)
    if kind == "longtail":
        if len(labels) < 2:
            raise ValueError("a long-tailed set needs at least 2 classes")
        order = list(labels)
        rng.shuffle(order)
        top, n = max(counts.values()), len(order)
        keep = {c: min(counts[c], max(1, round(top * ratio ** (i / (n - 1))))) for i, c in enumerate(order)}
        return ImbalancePlan(kind, ratio, keep, order[1:], order)
    raise ValueError(f"kind must be step or longtail, found {kind!r}")


def select(labels: Sequence[str], plan: ImbalancePlan, seed: int) -> list[int]:
    """Indices of the records to keep, in input order."""
    members = indices_by(labels)
    kept: list[int] = []
    for lab in sorted(members):
        kept.extend(random.Random(f"{seed}:{lab}").sample(members[lab], plan.keep[lab]))
    return sorted(kept)
