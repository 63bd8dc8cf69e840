"""Datasets for training: validated records, a label map, length-grouped dynamic-padding batches."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from prefit.errors import InputError
from prefit.jsonl import Fields, Record, indices_by, read_records


@dataclass
class LabelMap:
    labels: list[str]

    @property
    def index(self) -> dict[str, int]:
        return {lab: i for i, lab in enumerate(self.labels)}

    def encode(self, records: Sequence[Record], path) -> list[int]:
        idx = self.index
        out = []
        for r in records:
            if r.label not in idx:
                raise InputError(f"label {r.label!r} does not occur in the training data (known: {', '.join(self.labels)})",
                                 file=path, line=r.line, field="label")
            out.append(idx[r.label])
        return out


@dataclass
class Split:
    path: str
    records: list[Record]
    y: list[int]
    input_ids: list[list[int]]

    def counts(self, k: int) -> list[int]:
        c = Counter(self.y)
        return [c.get(i, 0) for i in range(k)]


def load_split(path, fields: Fields, labels: LabelMap | None, tokenizer, max_length: int) -> tuple[Split, LabelMap]:
    records = read_records(path, fields)
    if labels is None:
        labels = LabelMap(sorted({r.label for r in records}))
        if len(labels.labels) < 2:
            raise InputError(f"training data needs at least 2 classes, found {len(labels.labels)}", file=path, field=fields.label)
    y = labels.encode(records, path)
    if tokenizer is None:  # the peers and the windowed evaluation tokenize the texts themselves
        return Split(str(path), records, y, [[] for _ in records]), labels
    enc = tokenizer([r.text for r in records], truncation=True, max_length=max_length)
    return Split(str(path), records, y, enc["input_ids"]), labels


def oversample(split: Split, seed: int) -> Split:
    """Random oversampling: duplicate random minority records until every class has the majority size."""
    rng = random.Random(seed)
    by = indices_by(split.y)
    top = max(len(v) for v in by.values())
    idx = list(range(len(split.y)))
    for y in sorted(by):
        idx.extend(rng.choices(by[y], k=top - len(by[y])))
    return Split(split.path, [split.records[i] for i in idx], [split.y[i] for i in idx], [split.input_ids[i] for i in idx])


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: random.Random, group: bool = True,
                           megabatch: int = 50) -> list[list[int]]:
    """Shuffle, then sort by length within mega-batches of `megabatch` batches, so each batch
    holds similar lengths (little padding) while batch order stays random."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    if group:
        span = batch_size * megabatch
        idx = [i for s in range(0, len(idx), span) for i in sorted(idx[s : s + span], key=lambda j: -lengths[j])]
    batches = [idx[s : s + batch_size] for s in range(0, len(idx), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(input_ids: Sequence[list[int]], pad_id: int, pad_to: int | None = None):
    """Pad a batch to its longest sequence (dynamic padding), or to `pad_to`: torch tensors of windows.pad."""
    import torch

    from prefit.model.windows import pad

    ids, mask = pad(input_ids, pad_id, pad_to)
    return torch.from_numpy(ids), torch.from_numpy(mask)
