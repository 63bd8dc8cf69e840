"""What both back-translation engines return (backtranslate.py: CTranslate2, bergamot.py: Bergamot)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RoundTrip:
    text: str
    pivot_text: str
    truncated: bool


@dataclass
class Stats:
    sentences: int = 0
    seconds: float = 0.0
