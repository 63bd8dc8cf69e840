"""Quality filters for augmented text. Every drop is counted by reason in the job summary."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPACE = re.compile(r"\s+")

# Drop reasons, in the order they are checked.
EMPTY, TRUNCATED, IDENTICAL, LENGTH_RATIO, DUPLICATE = "empty", "truncated", "identical", "length_ratio", "duplicate"


def normalize(text: str) -> str:
    """Case- and whitespace-insensitive key for identity and duplicate checks."""
    return _SPACE.sub(" ", text).strip().lower()


@dataclass(frozen=True)
class FilterOptions:
    min_length_ratio: float = 0.5
    max_length_ratio: float = 2.0
    drop_identical: bool = True
    drop_duplicates: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.min_length_ratio <= self.max_length_ratio:
            raise ValueError(
                f"length ratio bounds must satisfy 0 <= min <= max, found [{self.min_length_ratio}, {self.max_length_ratio}]"
            )


def check(source: str, output: str, opts: FilterOptions, *, truncated: bool = False) -> str | None:
    """Return the reason to drop `output`, or None to keep it. (Duplicates are checked per class later.)"""
    out = normalize(output)
    if not out:
        return EMPTY
    if truncated:
        return TRUNCATED
    src = normalize(source)
    if opts.drop_identical and out == src:
        return IDENTICAL
    ratio = len(out) / max(1, len(src))
    if not opts.min_length_ratio <= ratio <= opts.max_length_ratio:
        return LENGTH_RATIO
    return None
