"""EDA: easy data augmentation (Wei & Zou, 2019) through nlpaug, offline.

Four operations, each changing n = max(1, alpha * words) words (alpha = 0.1 by default):
synonym replacement (SR), random insertion of a synonym (RI), random swap (RS), random deletion
(RD). Synonyms come from Princeton WordNet 3.0 (see wordnet_data). nlpaug's `SynonymAug` POS-tags
with an NLTK model that no package ships; EDA itself ignores part of speech, so we replace the
tagger with a no-op and draw synonyms from every part of speech, as the original EDA code does.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from prefit.stages.augment import filters as F

OPERATIONS = ("synonym", "insert", "swap", "delete")

# EDA's stop words (Wei & Zou's eda.py): never replaced or used for insertion.
STOPWORDS = set(
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers "
    "herself it its itself they them their theirs themselves what which who whom this that these those am is are "
    "was were be been being have has had having do does did doing a an the and but if or because as until while "
    "of at by for with about against between into through during before after above below to from up down in out "
    "on off over under again further then once here there when where why how all any both each few more most other "
    "some such no nor not only own same so than too very s t can will just don should now".split()
)


@dataclass(frozen=True)
class EdaOptions:
    alpha: float = 0.1
    operations: tuple[str, ...] = OPERATIONS

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], found {self.alpha}")
        bad = [o for o in self.operations if o not in OPERATIONS]
        if bad or not self.operations:
            raise ValueError(f"operations must be among {', '.join(OPERATIONS)}, found {', '.join(bad) or 'none'}")


def _untagged(tokens):
    # nlpaug maps an empty tag to "every part of speech" (PartOfSpeech.constituent2pos("") == []).
    return [(t, "") for t in tokens]


class Eda:
    """Builds the nlpaug augmenters once; `augment(text, operation)` applies one EDA operation."""

    def __init__(self, opts: EdaOptions = EdaOptions()) -> None:
        import nlpaug.augmenter.word as naw

        from prefit.stages.augment.wordnet_data import ensure_wordnet

        ensure_wordnet()
        self.opts = opts
        common = dict(aug_p=opts.alpha, aug_min=1, aug_max=None)
        self.synonym = naw.SynonymAug(aug_src="wordnet", stopwords=list(STOPWORDS), **common)
        self.synonym.model.pos_tag = _untagged  # no NLTK tagger download, ever
        self.wordnet = self.synonym.model
        self.swap = naw.RandomWordAug(action="swap", **common)
        self.delete = naw.RandomWordAug(action="delete", **common)

    def _insert(self, text: str, rng: random.Random) -> str:
        """EDA's random insertion: n times, insert a synonym of a random non-stop word at a random position."""
        words = text.split()
        n = max(1, int(self.opts.alpha * len(words)))
        candidates = [w for w in words if w.lower().strip(".,;:!?\"'()") not in STOPWORDS]
        for _ in range(n):
            for _attempt in range(10):
                if not candidates:
                    break
                word = rng.choice(candidates).strip(".,;:!?\"'()")
                syns = [s.replace("_", " ") for s in self.wordnet.predict(word) if s.lower() != word.lower()]
                if syns:
                    words.insert(rng.randint(0, len(words)), rng.choice(syns))
                    break
        return " ".join(words)

    def augment(self, text: str, operation: str, rng: random.Random) -> str:
        if operation == "insert":
            return self._insert(text, rng)
        aug = {"synonym": self.synonym, "swap": self.swap, "delete": self.delete}[operation]
        out = aug.augment(text)
        return out[0] if isinstance(out, list) else out


class EdaAugmenter:
    """Adapter from Eda to the resumable job: draw d of a record, variant v uses operation
    OPERATIONS[(d * variants + v) % len(operations)], so the operations rotate evenly."""

    name = "eda"

    def __init__(self, opts: EdaOptions, variants: int, filters: F.FilterOptions) -> None:
        self._eda = None  # built on first use: the adapter pickles small for Ray workers
        self.opts = opts
        self.variants = variants
        self.filters = filters
        self.outputs_per_draw = variants

    @property
    def eda(self) -> Eda:
        if self._eda is None:
            self._eda = Eda(self.opts)
        return self._eda

    def prepare(self) -> None:
        """Load WordNet now (seconds), so that the progress bar times augmentation only."""
        _ = self.eda

    def __getstate__(self) -> dict:
        return self.__dict__ | {"_eda": None}

    def settings(self) -> dict:
        return {"name": self.name, "eda": asdict(self.opts), "variants": self.variants}

    def generate(self, records, draws, seed: int):
        import time

        import numpy as np

        from prefit.stages.augment.job import Candidate

        eda = self.eda  # built before seeding: building it must not shift this chunk's random draws
        # nlpaug draws from the global `random` and numpy RNGs: seed them per chunk for resumability.
        random.seed(seed)
        np.random.seed(seed % (2**32))
        rng = random.Random(seed)
        t0 = time.perf_counter()
        out = []
        for d in draws:
            src = records[d.record].text
            for v in range(self.variants):
                variant = d.occurrence * self.variants + v
                op = self.opts.operations[variant % len(self.opts.operations)]
                text = eda.augment(src, op, rng)
                out.append(Candidate(d.record, text, None, variant, operation=op, dropped=F.check(src, text, self.filters)))
        return out, {"sentences": len(draws) * self.variants, "seconds": time.perf_counter() - t0}
