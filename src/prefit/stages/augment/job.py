"""The resumable augmentation job shared by `aug backtranslate` and `aug eda`.

1. read and validate the input; 2. plan sources per class (balance.py) and print the plan;
3. generate candidates chunk by chunk, each chunk written atomically (resume.py);
4. assemble: originals, then per class the first `needed` candidates that pass the filters and
   are not duplicates; write the output and a summary JSON atomically.
Chunks are seeded by (seed, chunk index), so a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from prefit.distributed import RayOptions, Step, fault, map_chunks, maybe_fail
from prefit.errors import InputError
from prefit.jsonl import (
    Fields,
    Record,
    read_records,
    remove_stale_temps,
    write_json_atomic,
    write_jsonl_atomic,
)
from prefit.resume import ChunkStore, job_lock
from prefit.stages.augment.balance import (
    BalancePolicy,
    ClassPlan,
    format_plan,
    plan_class_targets,
    plan_sources,
)
from prefit.stages.augment.filters import DUPLICATE, FilterOptions, normalize

log = logging.getLogger("prefit")


@dataclass(frozen=True)
class Draw:
    """One use of a source record: `occurrence` counts earlier draws of the same record."""

    record: int
    occurrence: int


@dataclass
class Candidate:
    """One augmented text (or the reason it was dropped), as stored in a chunk file."""

    record: int
    text: str
    pivot: str | None
    variant: int
    operation: str | None = None
    dropped: str | None = None


class Augmenter(Protocol):
    name: str
    outputs_per_draw: int

    def settings(self) -> dict[str, Any]: ...

    def generate(self, records: list[Record], draws: list[Draw], seed: int) -> tuple[list[Candidate], dict[str, float]]: ...


@dataclass(frozen=True)
class JobOptions:
    balance: BalancePolicy = BalancePolicy()
    seed: int = 13
    headroom: float = 1.2
    chunk_size: int = 256  # source draws per chunk (bench/backtranslate_speed.py: 32 cost 1.6x in engine time)
    include_originals: bool = True
    filters: FilterOptions = FilterOptions()
    fields: Fields = Fields()
    overwrite: bool = False
    progress: bool = True
    max_records: int = 1_000_000  # augmented records a plan may ask for; checked before any work
    ray: Any = None  # distributed.RayOptions: run the chunks on Ray (the output is the same)


@dataclass
class ClassSummary:
    original: int
    needed: int
    generated: int = 0
    kept: int = 0
    final: int = 0
    short: int = 0


@dataclass
class JobSummary:
    input: str
    output: str
    augmenter: str
    records_in: int = 0
    records_out: int = 0
    classes: dict[str, ClassSummary] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    surplus: int = 0
    sentences: int = 0
    engine_seconds: float = 0.0
    sentences_per_second: float = 0.0
    elapsed_seconds: float = 0.0
    resumed_chunks: int = 0
    settings: dict[str, Any] = field(default_factory=dict)


def summary_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".summary.json")


def _is_summary(path: Path) -> bool:
    """True when `path` is absent or a summary prefit wrote (an earlier run's, its output deleted):
    a file of the same name that is anything else is the user's, not to be replaced silently."""
    if not path.exists():
        return True
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(obj, dict) and {"classes", "records_out"} <= set(obj)


def plan_draws(plans: dict[str, ClassPlan]) -> list[Draw]:
    draws, seen = [], Counter()
    for plan in plans.values():
        for idx in plan.sources:
            draws.append(Draw(idx, seen[idx]))
            seen[idx] += 1
    return draws


def chunk_seed(seed: int, chunk: int) -> int:
    """Each chunk's own seed: what makes a resumed, reordered or distributed run equal a plain one."""
    return seed * 1_000_003 + chunk


def check_plan_size(labels: list[str], opts: JobOptions, inp: Path, outputs_per_draw: int = 1) -> None:
    """Refuse, before anything is allocated, a plan whose candidates (source draws x outputs per
    draw, headroom and variants included: what the job would generate and hold) exceed
    opts.max_records. The same arithmetic as balance.plan_sources, without building the plan."""
    import math

    counts = Counter(labels)
    if opts.balance.kind == "none":
        draws = len(labels)
    else:
        targets = plan_class_targets(dict(counts), opts.balance)
        draws = sum(math.ceil((targets[c] - n) * opts.headroom / outputs_per_draw) for c, n in counts.items() if targets[c] > n)
    wanted = draws * outputs_per_draw
    if wanted > opts.max_records:
        what = f"`balance={opts.balance.count or opts.balance.kind}`, `headroom={opts.headroom:g}` and {outputs_per_draw:,} output(s) per draw"
        raise InputError(f"{what} ask for {wanted:,} candidate records from {len(labels):,} inputs, more than `max_records="
                         f"{opts.max_records:,}`; lower them or raise max_records", file=inp)


def run_job(inp: str | Path, out: str | Path, augmenter: Augmenter, opts: JobOptions, *, echo=log.info) -> JobSummary:
    inp, out = Path(inp), Path(out)
    if out.suffix.lower() != ".jsonl":
        raise InputError("augmented corpora are written as JSON Lines: name the output *.jsonl", file=out)
    if inp.resolve() in (out.resolve(), summary_path(out).resolve()):
        what = "output" if out.resolve() == inp.resolve() else f"output's summary ({summary_path(out).name})"
        raise InputError(f"the {what} is the input file; choose another output (the input would be replaced)", file=out)
    records = read_records(inp, opts.fields)
    if not opts.overwrite and not out.exists() and not _is_summary(summary_path(out)):
        raise InputError(f"{summary_path(out).name} is there and is no augmentation summary; use --overwrite to replace it",
                         file=summary_path(out))
    with job_lock(out):
        remove_stale_temps(summary_path(out))  # the summary's, left by a killed run (the lock covers OUT's own)
        return _run_locked(inp, out, records, augmenter, opts, echo)


def _run_locked(inp: Path, out: Path, records: list[Record], augmenter: Augmenter, opts: JobOptions, echo) -> JobSummary:
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    labels = [r.label for r in records]
    check_plan_size(labels, opts, inp, augmenter.outputs_per_draw)
    plans = plan_sources(labels, opts.balance, augmenter.outputs_per_draw, seed=opts.seed, headroom=opts.headroom)
    echo(f"plan ({augmenter.name}, {augmenter.outputs_per_draw} candidate(s) per source draw, headroom {opts.headroom}):\n" + format_plan(plans))
    draws = plan_draws(plans)
    chunks = [draws[i : i + opts.chunk_size] for i in range(0, len(draws), opts.chunk_size)]
    settings = {
        "input": str(inp.resolve()),
        "input_mtime_ns": inp.stat().st_mtime_ns,
        "input_size": inp.stat().st_size,
        "augmenter": augmenter.settings(),
        "job": asdict(opts) | {"overwrite": None, "progress": None, "max_records": None, "ray": None},
    }
    store = ChunkStore(out, settings, overwrite=opts.overwrite)
    done_before = store.done()
    if opts.ray is None and len(done_before) < len(chunks) and hasattr(augmenter, "prepare"):
        augmenter.prepare()  # models or WordNet load before the bar starts: its rate is the augmentation's
    bar = tqdm(total=len(draws), unit="src", desc=augmenter.name, disable=not opts.progress)
    bar.update(sum(len(chunks[ci]) for ci in done_before if ci < len(chunks)))
    todo = [(ci, chunk, chunk_seed(opts.seed, ci)) for ci, chunk in enumerate(chunks) if ci not in done_before]
    if opts.ray is not None:

        for ci, payload in map_augment_chunks(augmenter, records, todo, opts.ray):
            store.put(ci, payload)
            bar.update(len(chunks[ci]))
    else:
        for ci, chunk, seed in todo:
            candidates, stats = augmenter.generate(records, chunk, seed=seed)
            store.put(ci, {"candidates": [asdict(c) for c in candidates], "stats": stats})
            bar.update(len(chunk))
    bar.close()

    summary = JobSummary(input=str(inp), output=str(out), augmenter=augmenter.name, records_in=len(records),
                         resumed_chunks=len(done_before & set(range(len(chunks)))), settings=settings)
    summary.classes = {lab: ClassSummary(original=p.original, needed=p.needed) for lab, p in plans.items()}
    rows = list(_assemble(records, plans, store, len(chunks), augmenter, opts, summary))
    summary.records_out = write_jsonl_atomic(out, rows)
    summary.elapsed_seconds = round(time.perf_counter() - t_start, 3)
    if summary.engine_seconds:
        summary.sentences_per_second = round(summary.sentences / summary.engine_seconds, 2)
    summary.engine_seconds = round(summary.engine_seconds, 3)
    write_json_atomic(summary_path(out), asdict(summary))
    store.cleanup()
    return summary


def _assemble(records, plans, store, n_chunks, augmenter, opts: JobOptions, summary: JobSummary) -> Iterator[dict]:
    tf = opts.fields.text
    seen: dict[str, set[str]] = defaultdict(set)
    for r in records:
        seen[r.label].add(normalize(r.text))
        if opts.include_originals:
            yield r.data | {"source_id": r.id, "augmenter": "original", "pivot": None, "variant": None}
    dropped: Counter = Counter()
    for ci in range(n_chunks):
        payload = store.get(ci)
        for k, v in payload["stats"].items():
            if k == "sentences":
                summary.sentences += int(v)
            elif k == "seconds":
                summary.engine_seconds += float(v)
        for c in payload["candidates"]:
            cand = Candidate(**c)
            rec = records[cand.record]
            cs = summary.classes[rec.label]
            cs.generated += 1
            if cand.dropped:
                dropped[cand.dropped] += 1
                continue
            key = normalize(cand.text)
            if opts.filters.drop_duplicates and key in seen[rec.label]:
                dropped[DUPLICATE] += 1
                continue
            if opts.balance.kind != "none" and cs.kept >= cs.needed:
                summary.surplus += 1
                continue
            seen[rec.label].add(key)
            cs.kept += 1
            tag = augmenter.name if cand.pivot is None else f"{augmenter.name}-{cand.pivot}"
            op = f"-{cand.operation}" if cand.operation else ""
            yield rec.data | {
                tf: cand.text,
                "id": f"{rec.id}/{tag}{op}-{cand.variant}",
                "source_id": rec.id,
                "augmenter": augmenter.name,
                "pivot": cand.pivot,
                "variant": cand.variant,
            } | ({"operation": cand.operation} if cand.operation else {})
    for lab, cs in summary.classes.items():
        cs.final = (cs.original if opts.include_originals else 0) + cs.kept  # records of the class in OUT
        cs.short = max(0, cs.needed - cs.kept) if opts.balance.kind != "none" else 0
        if cs.short:
            log.warning("class %r is %d record(s) short of its target after filtering; raise --headroom", lab, cs.short)
    summary.dropped = dict(sorted(dropped.items()))


# --- on Ray (prefit.distributed.map_chunks): actors that load the augmenter's models once ------

class AugmentChunks:
    """Ray Data actor: holds the augmenter (it loads its models on first use, once per worker),
    and turns rows {chunk, draws, seed} into {chunk, payload} with the generate() a single process calls."""

    def __init__(self, augmenter: Any, records: list, fault_switch=None) -> None:
        self.augmenter = augmenter
        self.records = records
        self.fault = fault_switch

    def __call__(self, batch: dict) -> dict:
        payloads = []
        for ci, draws, seed in zip(batch["chunk"], batch["draws"], batch["seed"], strict=True):
            maybe_fail(self.fault, f"chunk-{int(ci)}")
            cands, stats = self.augmenter.generate(self.records, [Draw(r, o) for r, o in json.loads(draws)], int(seed))
            payloads.append(json.dumps({"candidates": [asdict(c) for c in cands], "stats": stats}))
        return {"chunk": list(batch["chunk"]), "payload": payloads}


def map_augment_chunks(augmenter: Any, records: list, todo: Iterable[tuple[int, list, int]],
                       opts: RayOptions) -> Iterator[tuple[int, dict]]:
    """(chunk index, payload) for every (index, draws, seed) in `todo`, computed on Ray, in the
    order they finish."""
    rows = [{"chunk": ci, "draws": json.dumps([[d.record, d.occurrence] for d in draws]), "seed": seed} for ci, draws, seed in todo]
    for row in map_chunks(rows, [Step(AugmentChunks, (augmenter, records, fault()), gpus=True)], opts):
        yield int(row["chunk"]), json.loads(row["payload"])
