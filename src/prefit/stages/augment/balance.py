"""Class-balancing plan: how many augmented records each class needs, and from which sources.

Shi et al. (2022) grow every minority class with augmented copies until the classes are equal
in size. `plan_class_targets` turns a balance policy into a target size per class;
`plan_sources` picks, deterministically for a seed, which source records are augmented and how
many times, so that each class can reach its target.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from prefit.jsonl import indices_by


@dataclass(frozen=True)
class BalancePolicy:
    """`max`: every class reaches the largest class; an int: every class reaches N
    (classes already larger are not cut); `none`: augment every record once per variant."""

    kind: str = "max"  # "max" | "count" | "none"
    count: int = 0

    @classmethod
    def parse(cls, value: str) -> BalancePolicy:
        v = value.strip().lower()
        if v in ("max", "none"):
            return cls(kind=v)
        try:
            n = int(v)
        except ValueError:
            raise ValueError(f"expected 'max', 'none' or a positive integer, found {value!r}") from None
        if n <= 0:
            raise ValueError(f"expected a positive integer, found {n}")
        return cls(kind="count", count=n)


@dataclass
class ClassPlan:
    label: str
    original: int
    target: int
    needed: int  # augmented records to keep
    sources: list[int] = field(default_factory=list)  # record indices, one entry per source draw


def plan_class_targets(counts: dict[str, int], policy: BalancePolicy) -> dict[str, int]:
    """Target size (original + augmented) per class. With `none` the target is open-ended (-1)."""
    if policy.kind == "max":
        top = max(counts.values())
        return {c: top for c in counts}
    if policy.kind == "count":
        return {c: max(policy.count, n) for c, n in counts.items()}
    return {c: -1 for c in counts}


def plan_sources(
    labels: Sequence[str],
    policy: BalancePolicy,
    outputs_per_draw: int,
    *,
    seed: int,
    headroom: float = 1.0,
) -> dict[str, ClassPlan]:
    """Choose source records per class.

    Each draw of a source yields `outputs_per_draw` candidates (pivots x variants). A class that
    needs k more records draws ceil(k * headroom / outputs_per_draw) sources: without
    replacement first, then again from a fresh permutation, so every record is used as evenly as
    possible. `headroom` > 1 draws extra candidates to make up for the quality filters; the job
    keeps exactly `needed` of them.
    """
    if outputs_per_draw < 1:
        raise ValueError("outputs_per_draw must be >= 1")
    if headroom < 1.0:
        raise ValueError("headroom must be >= 1.0")
    counts = Counter(labels)
    targets = plan_class_targets(dict(counts), policy)
    members = indices_by(labels)
    plans: dict[str, ClassPlan] = {}
    for label in sorted(counts):
        idx = members[label]
        if policy.kind == "none":
            plans[label] = ClassPlan(label, len(idx), len(idx) * (1 + outputs_per_draw),
                                     len(idx) * outputs_per_draw, list(idx))
            continue
        needed = targets[label] - len(idx)
        draws = math.ceil(needed * headroom / outputs_per_draw) if needed > 0 else 0
        # A per-class RNG keeps one class's plan independent of the others.
        rng = random.Random(f"{seed}:{label}")
        sources: list[int] = []
        while len(sources) < draws:
            perm = list(idx)
            rng.shuffle(perm)
            sources.extend(perm[: draws - len(sources)])
        plans[label] = ClassPlan(label, len(idx), targets[label], max(needed, 0), sources)
    return plans


def format_plan(plans: dict[str, ClassPlan]) -> str:
    """A table of counts per class before and after, printed before work starts."""
    w = max([len("class")] + [len(p.label) for p in plans.values()])
    lines = [f"{'class':<{w}}  {'before':>7}  {'augment':>7}  {'after':>7}  {'sources':>7}"]
    for p in plans.values():
        lines.append(f"{p.label:<{w}}  {p.original:>7}  {p.needed:>7}  {p.original + p.needed:>7}  {len(p.sources):>7}")
    tb = sum(p.original for p in plans.values())
    ta = sum(p.needed for p in plans.values())
    lines.append(f"{'total':<{w}}  {tb:>7}  {ta:>7}  {tb + ta:>7}  {sum(len(p.sources) for p in plans.values()):>7}")
    return "\n".join(lines)
