"""The resumable scoring jobs behind `score`: plain functions a notebook can call.

score_labels: SPL labels (files, directories, DailyMed zips of zips) -> one record per
  pharmacokinetics paragraph, with a prediction when a model is given. Documents are known by
  content (SHA-256 of their XML), not by path: the same label given twice, by another path or
  inside another archive, is scored once. Adding inputs to an existing OUT scores only the new
  documents; OUT must have been written with the same settings (OUT.state.json records them).
score_texts: JSONL/CSV/TSV/Parquet records -> each record plus `predicted_label` and
  `probabilities`, in input order.

Both write finished work as they go: every `chunk` documents (or records) land atomically in
OUT.parts/ (resume.ChunkStore), so a crash keeps everything finished; the final OUT is assembled
atomically at the end. One job per OUT at a time (OUT.lock).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prefit.errors import InputError
from prefit.jsonl import atomic_write, dumps, write_json_atomic
from prefit.resume import ChunkStore, fingerprint, job_lock
from prefit.serve_cli.inputs import ArchiveLimits

log = logging.getLogger("prefit")


@dataclass
class ParagraphRecord:
    set_id: str | None
    version: str | None
    title: str | None
    generic_names: list[str]
    source: str
    section_path: list[str]
    heading: str | None
    paragraph_index: int
    kind: str
    text: str
    label: str
    predicted_label: str | None = None
    probabilities: dict | None = None


@dataclass(frozen=True)
class ScoreOptions:
    batch_size: int = 32
    include_tables: bool = False
    chunk: int = 32  # documents (labels) or records (texts) per resumable chunk
    text_field: str = "text"
    overwrite: bool = False
    progress: bool = True
    limits: ArchiveLimits = ArchiveLimits()


@dataclass
class ScoreSummary:
    output: str
    rows: int = 0  # rows in OUT now
    new: int = 0  # documents (labels) or records (texts) scored by this run
    already: int = 0  # documents skipped: already in OUT (by content)
    no_pk: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    scored: int = 0  # paragraphs or texts given to the model by this run
    model_seconds: float = 0.0


def predict(predictor, texts: list[str], batch_size: int) -> list[tuple[str, dict[str, float]]]:
    """(predicted label, probabilities) per text: the plain batch function."""
    probs = predictor.probabilities(texts, batch_size)
    labels = predictor.labels
    return [(labels[int(p.argmax())], {lab: round(float(x), 6) for lab, x in zip(labels, p, strict=True)}) for p in probs]


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".state.json")


# --- output files -------------------------------------------------------------------------------

PARAGRAPH_COLUMNS = list(ParagraphRecord.__dataclass_fields__)
_JSON_COLUMNS = ("section_path", "generic_names", "probabilities")


def check_output_name(out: Path) -> None:
    if out.suffix not in (".jsonl", ".csv"):
        raise InputError(f"the output must end in .jsonl or .csv, found {out.name!r}", file=out)


def read_rows(out: Path) -> Iterator[dict]:
    """Rows of an existing OUT (JSONL, or CSV as `score` writes it); InputError on a damaged file."""
    if out.suffix == ".csv":
        try:
            with open(out, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                for r in reader:
                    for k in _JSON_COLUMNS:
                        if k in r:
                            r[k] = json.loads(r[k]) if r[k] else (None if k == "probabilities" else [])
                    if "paragraph_index" in r:
                        r["paragraph_index"] = int(r["paragraph_index"])
                    yield r
        except (UnicodeDecodeError, ValueError, csv.Error) as e:
            raise InputError(f"the existing output is damaged ({type(e).__name__}: {e}); use --overwrite to start over",
                             file=out, line=reader.line_num if "reader" in locals() else None) from e
        return
    with open(out, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
                if not isinstance(row, dict):
                    raise ValueError(f"expected a JSON object, found {type(row).__name__}")
            except (UnicodeDecodeError, ValueError) as e:
                raise InputError(f"the existing output is damaged ({e}); use --overwrite to start over", file=out, line=lineno) from e
            yield row


def write_rows(out: Path, rows: Iterable[dict], columns: list[str] | None = None) -> int:
    n = 0
    with atomic_write(out) as fh:
        if out.suffix == ".csv":
            w = csv.DictWriter(fh, fieldnames=columns or PARAGRAPH_COLUMNS, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else "" if v is None else v)
                            for k, v in r.items()})
                n += 1
        else:
            for r in rows:
                fh.write(dumps(r) + "\n")
                n += 1
    return n


# --- labels -------------------------------------------------------------------------------------

def score_labels(inputs: list[str | Path], out: str | Path, predictor=None, opts: ScoreOptions = ScoreOptions()) -> ScoreSummary:
    """PK paragraphs of every SPL document in `inputs` (labelled from their ADME heading), scored
    by `predictor` when given; appended to OUT unless OUT already holds the document."""
    out = Path(out)
    check_output_name(out)
    settings = {"job": "labels", "model": getattr(predictor, "identity", None), "include_tables": opts.include_tables}
    with job_lock(out):
        return _score_labels(inputs, out, predictor, opts, settings)


def _previous_state(out: Path, settings: dict, overwrite: bool) -> set[str]:
    """Documents OUT already holds; refuses an OUT written with other settings (or none recorded)."""
    if overwrite or not out.exists():
        return set()
    sp = state_path(out)
    try:
        state = json.loads(sp.read_text(encoding="utf-8"))
        found, done = state["fingerprint"], set(state["done"])
    except FileNotFoundError:
        raise InputError(f"the output exists but {sp.name} (its settings and finished documents) does not; use --overwrite "
                         "to start over or choose another -o", file=out) from None
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"damaged state file ({e}); use --overwrite to start over", file=sp) from e
    if found != fingerprint(settings):
        old = state.get("settings", {})
        diff = ", ".join(f"{k}: {old.get(k)!r} -> {v!r}" for k, v in settings.items() if old.get(k) != v) or "settings"
        raise InputError(f"the output was written with other settings ({diff}); use --overwrite to start over or choose "
                         "another -o", file=out)
    return done


def _score_labels(inputs, out: Path, predictor, opts: ScoreOptions, settings: dict) -> ScoreSummary:
    from tqdm.auto import tqdm

    from prefit.serve_cli.inputs import SplSource, iter_sources
    from prefit.serve_cli.spl import find_pk_sections, iter_pk_paragraphs, parse

    summary = ScoreSummary(str(out))
    done = _previous_state(out, settings, opts.overwrite)
    existing = 0 if opts.overwrite or not out.exists() else sum(1 for _ in read_rows(out))  # also checks OUT is readable
    store = ChunkStore(out, settings, overwrite=opts.overwrite, existing_output_ok=True)
    for i in sorted(store.done()):
        done |= set(store.get(i)["done"])
    next_chunk = max(store.done(), default=-1) + 1
    pending_docs: list[str] = []
    pending: list[ParagraphRecord] = []

    def flush() -> None:
        nonlocal next_chunk
        if not pending_docs:
            return
        if predictor is not None and pending:
            t0 = time.perf_counter()
            for r, (lab, probs) in zip(pending, predict(predictor, [r.text for r in pending], opts.batch_size), strict=True):
                r.predicted_label, r.probabilities = lab, probs
            summary.model_seconds += time.perf_counter() - t0
            summary.scored += len(pending)
        store.put(next_chunk, {"done": list(pending_docs), "rows": [asdict(r) for r in pending]})
        next_chunk += 1
        pending_docs.clear()
        pending.clear()

    bar = tqdm(iter_sources(list(inputs), opts.limits), desc="labels", unit="doc", disable=not opts.progress)
    for src in bar:  # lazy: archive members are read one at a time while their archive is open
        if not isinstance(src, SplSource):
            summary.failed.append(src)
            continue
        try:
            data = src.read()
            key = hashlib.sha256(data).hexdigest()
            if key in done:
                summary.already += 1
                continue
            doc, root = parse(data, name=src.name)
        except InputError as e:
            summary.failed.append((src.name, e.message))
            continue
        except OSError as e:
            summary.failed.append((src.name, str(e)))
            continue
        paras = list(iter_pk_paragraphs(root, include_tables=opts.include_tables))
        if not paras:
            summary.no_pk.append((src.name, "empty pharmacokinetics section" if find_pk_sections(root) else "no pharmacokinetics section"))
        done.add(key)
        pending_docs.append(key)
        summary.new += 1
        pending.extend(ParagraphRecord(doc.set_id, doc.version, doc.title, doc.generic_names, src.name, p.section_path, p.heading,
                                       p.index, p.kind, p.text, p.label) for p in paras)
        if len(pending_docs) >= opts.chunk:
            flush()
    flush()
    bar.close()

    def rows() -> Iterator[dict]:
        if existing:
            yield from read_rows(out)
        for i in sorted(store.done()):
            yield from store.get(i)["rows"]

    summary.rows = write_rows(out, rows())
    write_json_atomic(state_path(out), {"fingerprint": fingerprint(settings), "settings": settings, "done": sorted(done)})
    store.cleanup()
    return summary


# --- texts --------------------------------------------------------------------------------------

def score_texts(inputs: list[str | Path], out: str | Path, predictor, opts: ScoreOptions = ScoreOptions()) -> ScoreSummary:
    """Every record of `inputs` (JSONL/CSV/TSV/Parquet) with `predicted_label` and `probabilities`."""
    from prefit.jsonl import Fields, iter_records

    out = Path(out)
    check_output_name(out)
    paths = [Path(p) for p in inputs]
    for p in paths:
        if p.resolve() == out.resolve():
            raise InputError("the output is an input file; choose another -o", file=out)
        if not p.is_file():
            raise InputError("file not found", file=p)
    settings = {"job": "texts", "model": predictor.identity, "text_field": opts.text_field,
                "inputs": [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]}
    summary = ScoreSummary(str(out))

    def records() -> Iterator:
        for p in paths:
            yield from iter_records(p, Fields(text=opts.text_field), require_label=False)

    def chunks() -> Iterator[list]:
        batch = []
        for r in records():
            batch.append(r)
            if len(batch) >= opts.chunk:
                yield batch
                batch = []
        if batch:
            yield batch

    from tqdm.auto import tqdm

    with job_lock(out):
        store = ChunkStore(out, settings, overwrite=opts.overwrite)
        done_before = store.done()
        n = 0
        bar = tqdm(desc="texts", unit="rec", disable=not opts.progress)
        for i, batch in enumerate(chunks()):
            n = i + 1
            bar.update(len(batch))
            if i in done_before:
                continue
            t0 = time.perf_counter()
            preds = predict(predictor, [r.text for r in batch], opts.batch_size)
            summary.model_seconds += time.perf_counter() - t0
            summary.scored += len(batch)
            summary.new += len(batch)
            store.put(i, {"rows": [r.data | {"predicted_label": lab, "probabilities": p} for r, (lab, p) in zip(batch, preds, strict=True)]})
        bar.close()

        def rows() -> Iterator[dict]:
            for i in range(n):
                yield from store.get(i)["rows"]

        columns = None
        if out.suffix == ".csv":
            columns = list(dict.fromkeys(k for row in rows() for k in row))
        summary.rows = write_rows(out, rows(), columns)
        store.cleanup()
    return summary


RECORD_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".parquet", ".pq")


def is_records_file(name: str | Path) -> bool:
    p = Path(name)
    suffix = Path(p.stem).suffix if p.suffix == ".gz" else p.suffix
    return suffix.lower() in RECORD_SUFFIXES

