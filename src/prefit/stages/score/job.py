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

import contextlib
import csv
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefit.errors import InputError
from prefit.jsonl import atomic_write, dumps, write_json_atomic
from prefit.resume import ChunkStore, fingerprint, job_lock
from prefit.spl.inputs import ArchiveLimits
from prefit.stages.score.batch import ParagraphRecord, add_predictions, extract_documents

log = logging.getLogger("prefit")


@dataclass(frozen=True)
class ScoreOptions:
    device: str = "auto"
    batch_size: int = 32
    include_tables: bool = False
    chunk: int = 32  # documents (labels) or records (texts) per resumable chunk
    chunk_bytes: int = 64 << 20  # labels: a chunk also closes at this much XML, so memory is bounded by chunk, not by data
    text_field: str = "text"
    overwrite: bool = False
    progress: bool = True
    limits: ArchiveLimits = ArchiveLimits()
    ray: Any = None  # distributed.RayOptions: parse and score on Ray (the output is the same)


@dataclass
class ScoreSummary:
    output: str
    rows: int = 0  # rows in OUT now
    new: int = 0  # documents (labels) or records (texts) scored by this run
    already: int = 0  # documents skipped: already in OUT (by content)
    no_pk: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    scored: int = 0  # paragraphs or texts given to the model by this run
    model_seconds: float = 0.0  # summed over workers with --ray
    variant: str | None = None  # the model file that scored (int8, fp32, pytorch, tfidf-lr, ...)
    device: str | None = None


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".state.json")


# --- output files -------------------------------------------------------------------------------

PARAGRAPH_COLUMNS = list(ParagraphRecord.__dataclass_fields__)
_JSON_COLUMNS = ("section_path", "generic_names")
PROB_PREFIX = "prob_"  # CSV: one probability column per label


OUTPUT_FORMATS = (".jsonl", ".csv", ".parquet")


def check_output_name(out: Path) -> None:
    if out.suffix not in OUTPUT_FORMATS:
        raise InputError(f"the output must end in {', '.join(OUTPUT_FORMATS)}, found {out.name!r}", file=out)


def read_rows(out: Path) -> Iterator[dict]:
    """Rows of an existing OUT (JSONL, or CSV / Parquet as `score` writes them); InputError on a damaged file."""
    if out.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(out).iter_batches(batch_size=4096):
                yield from batch.to_pylist()
        except Exception as e:  # pyarrow raises ArrowInvalid / OSError for damaged files
            raise InputError(f"the existing output is damaged ({type(e).__name__}: {e}); use `overwrite=True` to start over",
                             file=out) from e
        return
    if out.suffix == ".csv":
        try:
            with open(out, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                for r in reader:
                    for k in _JSON_COLUMNS:
                        if k in r:
                            r[k] = json.loads(r[k]) if r[k] else []
                    probs = {k[len(PROB_PREFIX):]: r.pop(k) for k in list(r) if k.startswith(PROB_PREFIX)}
                    if probs or "predicted_label" in r:
                        r["probabilities"] = {k: float(v) for k, v in probs.items()} if any(probs.values()) else None
                    if "paragraph_index" in r:
                        r["paragraph_index"] = int(r["paragraph_index"])
                    yield r
        except (UnicodeDecodeError, ValueError, csv.Error) as e:
            raise InputError(f"the existing output is damaged ({type(e).__name__}: {e}); use `overwrite=True` to start over",
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
                raise InputError(f"the existing output is damaged ({e}); use `overwrite=True` to start over", file=out, line=lineno) from e
            yield row


def write_rows(out: Path, rows: Iterable[dict], columns: list[str] | None = None, *, fmt: str | None = None) -> int:
    """`fmt`: jsonl, csv or parquet, when OUT's name does not say it (default: by its suffix). In CSV the
    probabilities are one column per label, `prob_<label>` (the labels of the first scored row:
    one output holds one model's predictions); lists are JSON text."""
    import itertools

    n = 0
    rows = iter(rows)
    fmt = fmt or out.suffix.lstrip(".")
    if fmt == "parquet":
        return _write_parquet(out, rows, columns or PARAGRAPH_COLUMNS)
    with atomic_write(out) as fh:
        if fmt == "csv":
            first = next(rows, None)
            fieldnames = list(columns or PARAGRAPH_COLUMNS)
            labels = list(first.get("probabilities") or {}) if first else []
            if "probabilities" in fieldnames:
                i = fieldnames.index("probabilities")
                fieldnames[i:i + 1] = [PROB_PREFIX + lab for lab in labels]
            fieldnames = list(dict.fromkeys(fieldnames))  # an input column prob_X (a scored file scored again) is replaced, once
            w = csv.DictWriter(fh, fieldnames=fieldnames, extrasaction="ignore")
            w.writeheader()
            for r in itertools.chain([first] if first else [], rows):
                probs = r.get("probabilities") or {}
                w.writerow({k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else "" if v is None else v)
                            for k, v in r.items() if k != "probabilities"} | {PROB_PREFIX + lab: probs.get(lab, "") for lab in labels})
                n += 1
        else:
            for r in rows:
                fh.write(dumps(r) + "\n")
                n += 1
    return n


def _write_parquet(out: Path, rows: Iterable[dict], columns: list[str], batch: int = 4096) -> int:
    """Parquet in row groups of `batch` rows (memory bounded by the batch); probabilities as a
    struct of one float per label, lists as lists, missing values as nulls."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, writer, schema = 0, None, None
    with atomic_write(out, "wb") as fh:
        buf: list[dict] = []

        def flush() -> None:
            nonlocal writer, schema
            table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in buf], schema=schema)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(fh, schema)
            writer.write_table(table)
            buf.clear()

        for r in rows:
            buf.append(r)
            n += 1
            if len(buf) >= batch:
                flush()
        if buf or writer is None:
            flush()
        writer.close()
    return n


# --- labels -------------------------------------------------------------------------------------

def score_labels(inputs: list[str | Path], out: str | Path, model: str | Path | None = None,
                 opts: ScoreOptions = ScoreOptions()) -> ScoreSummary:
    """PK paragraphs of every SPL document in `inputs` (labelled from their ADME heading), scored
    by the model in `model` when given; appended to OUT unless OUT already holds the document."""
    from prefit.model.folder import model_identity

    out = Path(out)
    check_output_name(out)
    settings = {"job": "labels", "model": model_identity(model) if model is not None else None, "include_tables": opts.include_tables}
    with job_lock(out), _no_empty_parts(out):
        return _score_labels(inputs, out, model, opts, settings)


@contextlib.contextmanager
def _no_empty_parts(out: Path) -> Iterator[None]:
    """A run that fails before finishing any chunk (a wrong field, a missing GPU) leaves nothing
    behind, so that the corrected command is not refused as "an unfinished run"."""
    try:
        yield
    except BaseException:
        parts = out.with_name(out.name + ".parts")
        if parts.is_dir() and not any(parts.glob("chunk-*.json")):
            shutil.rmtree(parts, ignore_errors=True)
        raise


def file_sha256(path: Path) -> str | None:
    if not path.exists():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _previous_state(out: Path, settings: dict, overwrite: bool) -> tuple[set[str], bool]:
    """(documents OUT holds, whether the unfinished-work folder is already merged into OUT).

    The commit protocol (commit_output): the state file is written first and names the SHA-256 of
    the OUT it describes and of the OUT before it; then OUT is renamed into place; then the
    finished chunks are removed. So after a kill anywhere, OUT matches either the state's new
    digest (committed: leftover chunks are already in OUT) or its previous one (not committed:
    the chunks are merged again). Refuses an OUT written with other settings, or changed since."""
    sp = state_path(out)
    if overwrite:
        return set(), False
    try:
        state = json.loads(sp.read_text(encoding="utf-8"))
        found, done = state["fingerprint"], set(state["done"])
    except FileNotFoundError:
        if out.exists():
            raise InputError(f"the output exists but {sp.name} (its settings and finished documents) does not; use `overwrite=True` "
                             "to start over or choose another -o", file=out) from None
        return set(), False
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"damaged state file ({e}); use `overwrite=True` to start over", file=sp) from e
    if found != fingerprint(settings):
        if not out.exists():  # a state without its output: nothing to keep
            return set(), False
        old = state.get("settings", {})
        diff = ", ".join(f"{k}: {old.get(k)!r} -> {v!r}" for k, v in settings.items() if old.get(k) != v) or "settings"
        raise InputError(f"the output was written with other settings ({diff}); use `overwrite=True` to start over or choose "
                         "another -o", file=out)
    if "output_sha256" not in state:  # written before the commit protocol: trusted as it is
        return done, False
    actual = file_sha256(out)
    if actual == state["output_sha256"]:
        return done, True
    previous = state.get("previous") or {}
    if actual == previous.get("output_sha256"):
        return set(previous.get("done") or []), False
    for _ in read_rows(out):  # a damaged line is named with its number first
        pass
    raise InputError("the output differs from the one its state file describes (changed outside prefit?); use `overwrite=True` to "
                     "start over or choose another -o", file=out)


def commit_output(out: Path, rows: Iterable[dict], state: dict, columns: list[str] | None = None) -> int:
    """Write OUT and its state file so that a kill anywhere leaves a state _previous_state can
    read: the new OUT in a temporary sibling, then the state naming the new and the previous OUT's
    digests, then the rename of OUT."""
    import os

    staged = out.with_name(f".{out.name}.commit.tmp")
    n = write_rows(staged, rows, columns, fmt=out.suffix.lstrip("."))
    write_json_atomic(state_path(out), {**state, "output_sha256": file_sha256(staged),
                                        "previous": {"output_sha256": file_sha256(out), "done": state.get("previous_done", [])}})
    os.replace(staged, out)
    return n


def _score_labels(inputs, out: Path, model, opts: ScoreOptions, settings: dict) -> ScoreSummary:
    from tqdm.auto import tqdm

    from prefit.spl.inputs import SplSource, iter_sources

    summary = ScoreSummary(str(out))
    done, merged = _previous_state(out, settings, opts.overwrite)
    previous_done = sorted(done)
    existing = 0 if opts.overwrite or not out.exists() else sum(1 for _ in read_rows(out))  # also checks OUT is readable
    store = ChunkStore(out, settings, overwrite=opts.overwrite, existing_output_ok=True)
    if merged:  # killed after OUT was committed, before its chunks were removed: they are in OUT already
        store.cleanup()
        store = ChunkStore(out, settings, existing_output_ok=True)
    for i in sorted(store.done()):
        done |= set(store.get(i)["done"])
    next_chunk = max(store.done(), default=-1) + 1
    predictor = None
    if model is not None and opts.ray is None:
        from prefit.model.classifier import Classifier

        predictor = Classifier.load(model, opts.device)
        summary.variant, summary.device = predictor.variant, predictor.device

    def finished(ci: int, result: dict) -> None:
        store.put(ci, result)
        done.update(result["done"])
        summary.new += len(result["done"])
        summary.no_pk.extend(map(tuple, result["no_pk"]))
        summary.failed.extend(map(tuple, result["failed"]))
        summary.scored += len(result["rows"]) if model is not None else 0
        summary.model_seconds += result.get("model_seconds", 0.0)
        scoring.update(len(result["rows"]) if model is not None else 0)

    def run_one(ci: int, docs: list) -> None:
        result = extract_documents(docs, opts.include_tables)
        t0 = time.perf_counter()
        result["rows"] = add_predictions(predictor, result["rows"], "text", opts.batch_size)
        result["model_seconds"] = time.perf_counter() - t0
        finished(ci, result)

    window: list[tuple[int, list]] = []  # Ray: chunks sent together, so that workers stay busy

    def run_window() -> None:
        from prefit.stages.score.on_ray import map_label_chunks

        for ci, result in map_label_chunks(window, model, opts):
            finished(ci, result)
        window.clear()

    docs: list[tuple[str, str, bytes]] = []
    seen_now: set[str] = set()
    held = 0  # XML bytes in `docs`

    def flush() -> None:
        nonlocal next_chunk, held
        held = 0
        if docs:
            if opts.ray is None:
                run_one(next_chunk, list(docs))
            else:
                window.append((next_chunk, list(docs)))
                if len(window) >= opts.ray.workers * 4:
                    run_window()
            next_chunk += 1
            docs.clear()

    bar = tqdm(iter_sources(list(inputs), opts.limits), desc="labels", unit="doc", disable=not opts.progress, position=0)
    # Scoring runs per chunk of documents: its own bar, in paragraphs (the model's work).
    scoring = tqdm(desc="scored", unit="para", disable=not opts.progress or model is None, position=1)
    for src in bar:  # lazy: archive members are read one at a time while their archive is open
        if not isinstance(src, SplSource):
            summary.failed.append(src)
            continue
        try:
            data = src.read()
        except OSError as e:
            summary.failed.append((src.name, str(e)))
            continue
        key = hashlib.sha256(data).hexdigest()
        if key in done or key in seen_now:
            summary.already += 1
            continue
        seen_now.add(key)
        docs.append((src.name, key, data))
        held += len(data)
        if len(docs) >= opts.chunk or held >= opts.chunk_bytes:
            flush()
    flush()
    if window:
        run_window()
    bar.close()
    scoring.close()

    def rows() -> Iterator[dict]:
        if existing:
            yield from read_rows(out)
        for i in sorted(store.done()):
            yield from store.get(i)["rows"]

    summary.rows = commit_output(out, rows(), {"fingerprint": fingerprint(settings), "settings": settings, "done": sorted(done),
                                                "previous_done": previous_done})
    store.cleanup()
    return summary


# --- texts --------------------------------------------------------------------------------------

def score_texts(inputs: list[str | Path], out: str | Path, model: str | Path, opts: ScoreOptions = ScoreOptions()) -> ScoreSummary:
    """Every record of `inputs` (JSONL/CSV/TSV/Parquet) with `predicted_label` and `probabilities`."""
    from prefit.jsonl import Fields, iter_records
    from prefit.model.classifier import Classifier
    from prefit.model.folder import model_identity

    out = Path(out)
    check_output_name(out)
    paths = [Path(p) for p in inputs]
    for p in paths:
        if p.resolve() == out.resolve():
            raise InputError("the output is an input file; choose another -o", file=out)
        if not p.is_file():
            raise InputError("file not found", file=p)
    # The chunk size is part of the settings: chunk i of one size holds other records than chunk i
    # of another, so finished chunks are resumed only with the size that wrote them.
    settings = {"job": "texts", "model": model_identity(model), "text_field": opts.text_field, "chunk": opts.chunk,
                "inputs": [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]}
    summary = ScoreSummary(str(out))

    def chunks() -> Iterator[list[dict]]:
        batch: list[dict] = []
        for p in paths:
            for r in iter_records(p, Fields(text=opts.text_field), require_label=False):
                batch.append(r.data)
                if len(batch) >= opts.chunk:
                    yield batch
                    batch = []
        if batch:
            yield batch

    from tqdm.auto import tqdm

    with job_lock(out), _no_empty_parts(out):
        store = ChunkStore(out, settings, overwrite=opts.overwrite)
        done_before = store.done()
        predictor = None
        if opts.ray is None:
            predictor = Classifier.load(model, opts.device)
            summary.variant, summary.device = predictor.variant, predictor.device
        n = 0
        window: list[tuple[int, list[dict]]] = []
        bar = tqdm(desc="texts", unit="rec", disable=not opts.progress)

        def finished(ci: int, rows: list[dict], seconds: float) -> None:
            store.put(ci, {"rows": rows})
            summary.scored += len(rows)
            summary.new += len(rows)
            summary.model_seconds += seconds
            bar.update(len(rows))

        def run_window() -> None:
            from prefit.stages.score.on_ray import map_text_chunks

            for ci, rows, seconds in map_text_chunks(window, model, opts):
                finished(ci, rows, seconds)
            window.clear()

        for i, batch in enumerate(chunks()):  # every record is read and validated, finished chunks included
            n = i + 1
            if i in done_before:
                bar.update(len(batch))
                continue
            if opts.ray is not None:
                window.append((i, batch))
                if len(window) >= opts.ray.workers * 4:
                    run_window()
                continue
            t0 = time.perf_counter()
            rows = add_predictions(predictor, batch, opts.text_field, opts.batch_size)
            finished(i, rows, time.perf_counter() - t0)
        if window:
            run_window()
        bar.close()

        def rows() -> Iterator[dict]:
            for i in range(n):
                yield from store.get(i)["rows"]

        columns = None
        if out.suffix in (".csv", ".parquet"):
            columns = list(dict.fromkeys(k for row in rows() for k in row))
        summary.rows = write_rows(out, rows(), columns)
        store.cleanup()
    return summary


def is_records_file(name: str | Path) -> bool:
    """A file of records (jsonl.input_format knows it), as opposed to SPL labels."""
    from prefit.jsonl import input_format

    try:
        input_format(name)
    except InputError:
        return False
    return True
