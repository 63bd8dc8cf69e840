"""Split text into sentences and rejoin them with the original separators.

Translation models are trained on sentences; OPUS-MT has 512 positions and CTranslate2 stops at
256 output tokens by default. Long inputs are split here and rejoined exactly, so nothing is
truncated silently. A rule-based splitter: no model, no download.
"""

from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace,
# or at a line break. Common abbreviations do not end a sentence.
_ABBREV = {"e.g", "i.e", "etc", "vs", "dr", "mr", "mrs", "ms", "prof", "fig", "no", "approx", "st", "jr", "sr", "inc", "ltd", "mg", "ml"}
_END = re.compile(r"([.!?]+[\"')\]]*)(\s+)|(\s*\n\s*)")


def split_sentences(text: str) -> list[tuple[str, str]]:
    """Return (sentence, separator) pairs; "".join(s + sep) == text."""
    out: list[tuple[str, str]] = []
    lead = len(text) - len(text.lstrip())
    start = lead
    prefix = text[:lead]
    pos = lead
    while True:
        m = _END.search(text, pos)
        if m is None:
            break
        if m.group(1) is not None:
            end = m.start(2)
            word = text[start:m.start(1)].rsplit(None, 1)[-1].lower() if text[start:m.start(1)].split() else ""
            abbrev = word.rstrip(".") in _ABBREV or (len(word) == 1 and word.isalpha())
            if abbrev and "\n" not in m.group(2) and m.end() < len(text):
                pos = m.end()
                continue
            sep_start, sep_end = m.start(2), m.end(2)
        else:
            end = m.start(3)
            sep_start, sep_end = m.start(3), m.end(3)
        if end > start:
            out.append((text[start:end], text[sep_start:sep_end]))
        elif out:
            s, sep = out[-1]
            out[-1] = (s, sep + text[sep_start:sep_end])
        start = pos = sep_end
    if start < len(text):
        out.append((text[start:], ""))
    if prefix:
        out.insert(0, ("", prefix))
    return out


def join_sentences(parts: list[tuple[str, str]]) -> str:
    return "".join(s + sep for s, sep in parts)
