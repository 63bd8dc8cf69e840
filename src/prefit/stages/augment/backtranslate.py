"""Back-translation with CTranslate2: source -> pivot -> source, sentence by sentence.

`BackTranslator` loads each direction once (a CTranslate2 model plus its sentencepiece files)
and back-translates lists of texts. Texts are split into sentences (see `sentences`), overlong
sentences into token windows, and rejoined with their original separators, so long inputs are
never truncated silently. CTranslate2 does not append `</s>` for converted Transformers models;
we do.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from prefit.errors import InputError
from prefit.stages.augment.roundtrip import RoundTrip, Stats
from prefit.stages.augment.sentences import split_sentences

log = logging.getLogger("prefit")

EOS = "</s>"


@dataclass(frozen=True)
class DecodingOptions:
    """How both legs of a round trip are decoded.

    Random sampling (top-k 10, temperature 1.0) is the default: sampled back-translations are
    more diverse than beam outputs (Edunov et al., 2018). `mode="beam"` gives the single most
    likely translations; `mode="greedy"` is beam size 1.
    """

    mode: str = "sample"  # "sample" | "beam" | "greedy"
    beam_size: int = 4
    sampling_topk: int = 10
    sampling_temperature: float = 1.0
    max_batch_tokens: int = 4096
    max_input_tokens: int = 200  # longer sentences are cut into windows of this many tokens
    max_decoding_length: int = 512  # OPUS-MT has 512 positions
    min_decoding_length: int = 1
    length_ratio_cap: float = 3.0  # decode at most cap * source tokens + 10 before calling it truncated

    def __post_init__(self) -> None:
        if self.mode not in ("sample", "beam", "greedy"):
            raise ValueError(f"mode must be sample, beam or greedy, found {self.mode!r}")


@dataclass(frozen=True)
class EngineOptions:
    device: str = "auto"  # auto | cpu | cuda
    compute_type: str = "auto"  # auto | int8 | int8_float16 | float16 | float32 ...
    inter_threads: int = 1
    intra_threads: int = 0  # 0: CTranslate2 picks


@dataclass
class Translation:
    text: str
    truncated: bool = False




def resolve_device(device: str) -> str:
    from prefit.model.registry import resolve_device as resolve

    return resolve(device, "ctranslate2")


class Direction:
    """One translation direction: a CTranslate2 translator and its sentencepiece models."""

    def __init__(self, model_dir: str | Path, engine: EngineOptions = EngineOptions()) -> None:
        import sentencepiece as spm

        self.model_dir = Path(model_dir)
        self.engine = engine
        self.device = resolve_device(engine.device)
        try:
            self.translator = self._load()
        except (RuntimeError, ValueError, OSError) as e:
            raise InputError(f"cannot load the CTranslate2 model ({str(e).splitlines()[0][:300]}); convert it again with "
                             "'aug models convert'", file=self.model_dir) from e
        try:
            self.sp_source = spm.SentencePieceProcessor(model_file=str(self.model_dir / "source.spm"))
            self.sp_target = spm.SentencePieceProcessor(model_file=str(self.model_dir / "target.spm"))
        except (RuntimeError, OSError) as e:
            raise InputError(f"cannot load the sentencepiece models source.spm/target.spm ({str(e).splitlines()[0][:300]})",
                             file=self.model_dir) from e

    def _load(self):
        import ctranslate2

        return ctranslate2.Translator(
            str(self.model_dir),
            device=self.device,
            compute_type=self.engine.compute_type,
            inter_threads=self.engine.inter_threads,
            intra_threads=self.engine.intra_threads,
        )

    def reseed(self, seed: int) -> None:
        """Make sampling reproducible from here on.

        CTranslate2 seeds each worker thread's RNG once, when the thread starts, from the global
        seed; re-creating the translator after `set_random_seed` is the only way to give one batch
        its own seed, which resumable jobs need (a resumed chunk must equal the uninterrupted one).
        """
        import ctranslate2

        ctranslate2.set_random_seed(seed)
        del self.translator
        self.translator = self._load()

    def tokenize(self, sentence: str, max_tokens: int) -> list[list[str]]:
        """Pieces of one sentence, cut into windows of at most max_tokens (at word starts when possible)."""
        pieces = self.sp_source.encode(sentence, out_type=str)
        if len(pieces) <= max_tokens:
            return [pieces]
        windows, start = [], 0
        while start < len(pieces):
            end = min(start + max_tokens, len(pieces))
            if end < len(pieces):
                cut = max((j for j in range(start + 1, end + 1) if pieces[j].startswith("▁")), default=end)
                end = cut
            windows.append(pieces[start:end])
            start = end
        return windows

    def translate_tokens(self, batch: list[list[str]], opts: DecodingOptions, num_hypotheses: int = 1) -> list[list[Translation]]:
        if not batch:
            return []
        longest = max(len(t) for t in batch)
        max_len = min(opts.max_decoding_length, int(opts.length_ratio_cap * longest) + 10)
        kw: dict = dict(
            max_batch_size=opts.max_batch_tokens,
            batch_type="tokens",
            max_input_length=0,  # we cut windows ourselves; never let the engine truncate
            max_decoding_length=max_len,
            min_decoding_length=min(opts.min_decoding_length, max_len),
            num_hypotheses=num_hypotheses,
        )
        if opts.mode == "sample":
            kw.update(beam_size=1, sampling_topk=opts.sampling_topk, sampling_temperature=opts.sampling_temperature)
        elif opts.mode == "beam":
            kw.update(beam_size=max(opts.beam_size, num_hypotheses))
        else:
            kw.update(beam_size=max(1, num_hypotheses))
        results = self.translator.translate_batch([t + [EOS] for t in batch], **kw)
        out = []
        for res in results:
            hyps = []
            for toks in res.hypotheses:
                hyps.append(Translation(self.sp_target.decode(toks), truncated=len(toks) >= max_len))
            out.append(hyps)
        return out

    def translate(self, texts: list[str], opts: DecodingOptions = DecodingOptions(), num_hypotheses: int = 1) -> list[list[Translation]]:
        """Translate texts (sentence-split, windowed, rejoined). Returns num_hypotheses per text."""
        plan: list[list[tuple[int, int, str]]] = []  # per text: (first window, n windows, separator)
        flat: list[list[str]] = []
        for text in texts:
            parts = []
            for sentence, sep in split_sentences(text):
                windows = self.tokenize(sentence, opts.max_input_tokens) if sentence.strip() else []
                parts.append((len(flat), len(windows), sep))
                flat.extend(windows)
            plan.append(parts)
        translated = self.translate_tokens(flat, opts, num_hypotheses)
        out = []
        for parts in plan:
            hyps = []
            for h in range(num_hypotheses):
                chunks, truncated = [], False
                for first, n, sep in parts:
                    seg = []
                    for w in range(first, first + n):
                        cand = translated[w][min(h, len(translated[w]) - 1)]
                        seg.append(cand.text)
                        truncated |= cand.truncated
                    chunks.append(" ".join(seg) + sep)
                hyps.append(Translation("".join(chunks).strip(), truncated))
            out.append(hyps)
        return out


class BackTranslator:
    """Round trips source -> pivot -> source through one or more pivot languages.

    >>> bt = BackTranslator({"de": ("models/en-de", "models/de-en")})
    >>> bt.back_translate(["The drug is absorbed."], pivot="de", variants=2)
    """

    def __init__(
        self,
        pivots: dict[str, tuple[str | Path, str | Path]],
        decoding: DecodingOptions = DecodingOptions(),
        engine: EngineOptions = EngineOptions(),
    ) -> None:
        self.decoding = decoding
        self.engine = engine
        self.directions = {p: (Direction(fwd, engine), Direction(bwd, engine)) for p, (fwd, bwd) in pivots.items()}
        self.stats = Stats()

    @property
    def pivots(self) -> list[str]:
        return list(self.directions)

    def back_translate(self, texts: list[str], pivot: str, variants: int = 1, *, seed: int | None = None) -> list[list[RoundTrip]]:
        """For each text, `variants` round trips through `pivot`.

        Sampling draws each variant independently; beam search returns the top `variants` pivot
        hypotheses. `seed` fixes the sampling RNG for this call (reloads the translators).
        """
        fwd, bwd = self.directions[pivot]
        if seed is not None and self.decoding.mode == "sample":
            fwd.reseed(seed)
            bwd.reseed(seed + 1)
        t0 = time.perf_counter()
        if self.decoding.mode == "sample":
            repeated = [t for t in texts for _ in range(variants)]
            pivot_texts = [h[0] for h in fwd.translate(repeated, self.decoding)]
        else:
            pivot_texts = [h for hyps in fwd.translate(texts, self.decoding, variants) for h in hyps]
        back = [h[0] for h in bwd.translate([p.text for p in pivot_texts], self.decoding)]
        self.stats.seconds += time.perf_counter() - t0
        self.stats.sentences += sum(len([s for s, _ in split_sentences(t) if s.strip()]) for t in texts) * variants
        out = []
        for i in range(len(texts)):
            row = []
            for v in range(variants):
                p, b = pivot_texts[i * variants + v], back[i * variants + v]
                row.append(RoundTrip(b.text, p.text, p.truncated or b.truncated))
            out.append(row)
        return out


ENGINES = ("ctranslate2", "bergamot")


def make_back_translator(engine_name: str, pivots: dict[str, tuple[str, str]], decoding: DecodingOptions = DecodingOptions(),
                         engine: EngineOptions = EngineOptions(), threads: int = 1):
    """A BackTranslator (CTranslate2) or a BergamotBackTranslator (bergamot.py): the same interface."""
    if engine_name == "ctranslate2":
        return BackTranslator(pivots, decoding, engine)
    if engine_name == "bergamot":
        from prefit.stages.augment.bergamot import BergamotBackTranslator

        return BergamotBackTranslator(pivots, threads)
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, found {engine_name!r}")


class BackTranslationAugmenter:
    """Adapter from a BackTranslator to the resumable job (job.py). The translator is loaded on
    first use (or given), so the adapter pickles small and a Ray worker loads its own copy."""

    name = "backtranslate"

    def __init__(self, model_dirs: dict[str, tuple[str, str]], variants: int, filters, decoding: DecodingOptions = DecodingOptions(),
                 engine: EngineOptions = EngineOptions(), translator=None, *, engine_name: str = "ctranslate2", threads: int = 1) -> None:
        self.model_dirs = model_dirs
        self.variants = variants
        self.filters = filters
        self.decoding = decoding
        self.engine = engine
        self.engine_name = engine_name
        self.threads = threads
        self._bt = translator
        self.outputs_per_draw = len(model_dirs) * variants

    @property
    def bt(self):
        if self._bt is None:
            self._bt = make_back_translator(self.engine_name, self.model_dirs, self.decoding, self.engine, self.threads)
        return self._bt

    def prepare(self) -> None:
        """Load the translation models now, so that the progress bar times translation only."""
        _ = self.bt

    def __getstate__(self) -> dict:
        return self.__dict__ | {"_bt": None}  # a worker loads the models itself

    def settings(self) -> dict:
        from dataclasses import asdict

        if self.engine_name == "bergamot":  # deterministic: variants come from segmentation strategies, not decoding
            from prefit.stages.augment.bergamot import VARIANT_STRATEGIES

            return {"name": self.name, "engine": "bergamot", "pivots": self.model_dirs, "variants": self.variants,
                    "strategies": [VARIANT_STRATEGIES[v % len(VARIANT_STRATEGIES)] for v in range(self.variants)]}
        return {"name": self.name, "pivots": self.model_dirs, "variants": self.variants, "decoding": asdict(self.decoding)}

    def generate(self, records, draws, seed: int):
        from prefit.stages.augment import filters as F
        from prefit.stages.augment.job import Candidate

        texts = [records[d.record].text for d in draws]
        s0, t0 = self.bt.stats.sentences, self.bt.stats.seconds
        out = []
        for pi, pivot in enumerate(self.bt.pivots):
            trips = self.bt.back_translate(texts, pivot, self.variants, seed=seed * 31 + pi)
            for d, row in zip(draws, trips):
                for v, trip in enumerate(row):
                    reason = F.check(records[d.record].text, trip.text, self.filters, truncated=trip.truncated)
                    out.append(Candidate(d.record, trip.text, pivot, d.occurrence * self.variants + v, dropped=reason))
        return out, {"sentences": self.bt.stats.sentences - s0, "seconds": self.bt.stats.seconds - t0}


class BackTranslateBatch:
    """Back-translate a batch of records: a plain callable for distributed engines.

    With Ray Data, one actor per GPU::

        ds.map_batches(BackTranslateBatch, fn_constructor_kwargs=dict(pivots=..., variants=2),
                       batch_format="pandas"|"numpy", concurrency=n_gpus, num_gpus=1)

    The batch is a mapping of columns (Ray's "numpy" format) or a pandas DataFrame; the result
    has one row per (input row, pivot, variant) with `text`, `pivot_text`, `pivot`, `variant`,
    `source_id` and `truncated`, plus every other input column.
    """

    def __init__(self, pivots: dict[str, tuple[str, str]], variants: int = 1, text_field: str = "text",
                 decoding: DecodingOptions = DecodingOptions(), engine: EngineOptions = EngineOptions(), engine_name: str = "ctranslate2",
                 threads: int = 1) -> None:
        self.bt = make_back_translator(engine_name, pivots, decoding, engine, threads)
        self.variants = variants
        self.text_field = text_field

    def __call__(self, batch):
        is_frame = hasattr(batch, "to_dict") and hasattr(batch, "columns")
        cols = {k: list(batch[k]) for k in (batch.columns if is_frame else batch)}
        n = len(cols[self.text_field])
        ids = cols.get("id", list(range(n)))
        out: dict[str, list] = {k: [] for k in list(cols) + ["source_id", "pivot", "variant", "pivot_text", "truncated"]}
        for pivot in self.bt.pivots:
            trips = self.bt.back_translate([str(t) for t in cols[self.text_field]], pivot, self.variants)
            for i, row in enumerate(trips):
                for v, trip in enumerate(row):
                    for k in cols:
                        out[k].append(cols[k][i])
                    out[self.text_field][-1] = trip.text
                    out["source_id"].append(ids[i])
                    out["pivot"].append(pivot)
                    out["variant"].append(v)
                    out["pivot_text"].append(trip.pivot_text)
                    out["truncated"].append(trip.truncated)
        if is_frame:
            import pandas as pd

            return pd.DataFrame(out)
        return out
