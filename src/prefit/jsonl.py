"""Record input in the formats people have (JSONL(.gz), CSV/TSV(.gz), Parquet) with precise
errors, and atomic output.

Every reader yields (position, object): the 1-based line for JSONL and CSV/TSV (the header is line
1), the 1-based row for Parquet; errors name the file, that position and the field.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefit.errors import InputError

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


log = logging.getLogger("prefit")

@dataclass(frozen=True)
class Fields:
    """Which fields hold the text and the label."""

    text: str = "text"
    label: str = "label"


@dataclass
class Record:
    """One validated input row: its id, text, label, position in the file and the whole original object."""

    id: str
    text: str
    label: str | None  # None only where null labels were allowed (unlabelled)
    line: int
    data: dict[str, Any]


def indices_by(values: Iterable[Hashable]) -> dict[Hashable, list[int]]:
    """Positions of each value, in input order: {label: [i, ...]} (the one per-class grouping of
    imbalance, balancing, oversampling and the demo split)."""
    out: dict[Hashable, list[int]] = {}
    for i, v in enumerate(values):
        out.setdefault(v, []).append(i)
    return out


def input_format(path: str | os.PathLike) -> str:
    """"jsonl", "csv", "tsv" or "parquet", from the name (a trailing .gz is looked through)."""
    p = Path(path)
    suffix = Path(p.stem).suffix if p.suffix == ".gz" else p.suffix
    if suffix.lower() not in FORMATS:
        raise InputError(f"unknown input format {suffix or '(no extension)'!r}; expected one of "
                         f"{', '.join(sorted(FORMATS))} (optionally .gz, except .parquet)", file=p)
    return FORMATS[suffix.lower()]


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a number")
    return value


MAX_LINE_BYTES = 1 << 28  # one record; a gzip bomb of one endless line stops here, not at the memory limit


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, decoded line, a leading UTF-8 BOM dropped); invalid UTF-8, gzip damage and
    lines over MAX_LINE_BYTES are named with their line."""
    opener = gzip.open if path.suffix == ".gz" else open
    lineno = 0
    try:
        with opener(path, "rb") as fh:
            while raw := fh.readline(MAX_LINE_BYTES + 1):
                lineno += 1
                if len(raw) > MAX_LINE_BYTES:
                    raise InputError(f"line longer than {MAX_LINE_BYTES >> 20} MiB", file=path, line=lineno)
                try:
                    yield lineno, raw.decode("utf-8").removeprefix("\ufeff") if lineno == 1 else raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise InputError(f"invalid UTF-8 (byte {e.start + 1} of the line); save the file as UTF-8", file=path,
                                     line=lineno) from e
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise InputError(f"cannot read ({e})", file=path, line=lineno + 1 if lineno else None) from e


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, raw in _lines(path):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON ({e.msg} at column {e.colno})", file=path, line=lineno) from e
        except ValueError as e:  # NaN / Infinity / 1e999
            raise InputError(f"invalid JSON ({e})", file=path, line=lineno) from e
        except RecursionError:  # "[[[[..." nested past Python's recursion limit
            raise InputError("invalid JSON (nested too deeply)", file=path, line=lineno) from None
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, found {type(obj).__name__}", file=path, line=lineno)
        yield lineno, obj


MAX_CELL_CHARS = 1 << 28  # as long as a JSONL line may be; csv's own default (131,072) refused long texts


def _iter_delimited(path: Path, delimiter: str) -> Iterator[tuple[int, dict[str, Any]]]:
    def text_lines() -> Iterator[str]:  # Excel's "CSV UTF-8" starts with a BOM, which _lines drops
        for _, text in _lines(path):
            yield text

    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS))
    quoting = csv.QUOTE_MINIMAL
    if delimiter == "\t":
        # A TSV is read with CSV quoting when all of it parses that way (Python's csv writes quoted
        # TSV), else as plain tab-separated values, where a cell may start with '"'.
        try:
            for _ in csv.reader(text_lines(), delimiter=delimiter, strict=True):
                pass
        except csv.Error:
            quoting = csv.QUOTE_NONE
    reader = csv.reader(text_lines(), delimiter=delimiter, strict=True, quoting=quoting)
    try:
        header = next(reader, None)
        if header is None:
            return
        if len(set(header)) != len(header):
            raise InputError(f"duplicate column names in the header: {header}", file=path, line=1)
        for row in reader:
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(f"expected {len(header)} columns (as in the header), found {len(row)}", file=path,
                                 line=reader.line_num)
            yield reader.line_num, dict(zip(header, row))
    except csv.Error as e:
        raise InputError(f"invalid {'TSV' if delimiter == chr(9) else 'CSV'} ({e})", file=path, line=reader.line_num) from e


def _iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - pyarrow is a dependency
        raise InputError("reading Parquet needs pyarrow: pip install pyarrow", file=path) from e
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid / OSError for damaged files
        raise InputError(f"cannot read Parquet ({e})", file=path) from e
    row, batches = 0, pf.iter_batches(batch_size=4096)
    while True:
        try:  # a damaged data page fails here, mid-file, not at open
            batch = next(batches, None)
            objs = batch.to_pylist() if batch is not None else None
        except Exception as e:
            first = (str(e).splitlines() or [""])[0][:200]
            raise InputError(f"cannot read Parquet after row {row} ({type(e).__name__}: {first})", file=path, line=row + 1) from e
        if objs is None:
            return
        for obj in objs:
            row += 1
            # JSON has no NaN: a missing float becomes null rather than invalid output.
            yield row, {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in obj.items()}


def iter_objects(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line or row number, object) for each non-blank record of a JSONL, CSV, TSV or
    Parquet file (chosen by extension); raise InputError naming the file and line on bad input."""
    path = Path(path)
    fmt = input_format(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.is_dir():
        raise InputError("is a directory, expected a file", file=path)
    if fmt == "jsonl":
        yield from _iter_jsonl(path)
    elif fmt in ("csv", "tsv"):
        yield from _iter_delimited(path, "," if fmt == "csv" else "\t")
    else:
        yield from _iter_parquet(path)


def iter_records(
    path: str | os.PathLike,
    fields: Fields = Fields(),
    *,
    require_label: bool = True,
    null_label: bool = False,
) -> Iterator[Record]:
    """Yield validated records. Text must be a non-empty string, label a string (or, with
    `null_label`, null: an unlabelled record, whose label is None)."""
    for lineno, obj in iter_objects(path):
        yield validate_record(obj, path, lineno, fields, require_label=require_label, null_label=null_label)


def validate_record(
    obj: dict[str, Any],
    path: str | os.PathLike,
    lineno: int,
    fields: Fields,
    *,
    require_label: bool = True,
    null_label: bool = False,
) -> Record:
    if fields.text not in obj:
        raise InputError("missing", file=path, line=lineno, field=fields.text)
    text = obj[fields.text]
    if not isinstance(text, str):
        raise InputError(f"expected a string, found {type(text).__name__}", file=path, line=lineno, field=fields.text)
    if not text.strip():
        raise InputError("empty text", file=path, line=lineno, field=fields.text)
    label = ""
    if require_label:
        if fields.label not in obj:
            raise InputError("missing", file=path, line=lineno, field=fields.label)
        label = obj[fields.label]
        if label is None and null_label:
            return Record(id=str(obj.get("id", lineno)), text=text, label=None, line=lineno, data=obj)
        if label is None:
            raise InputError("null: an unlabelled record (`score --extract-only` writes null where no heading names a topic); "
                             "leave it out, as `train split` does", file=path, line=lineno, field=fields.label)
        if not isinstance(label, str):
            raise InputError(
                f"expected a string label, found {type(label).__name__} ({json.dumps(label)})",
                file=path,
                line=lineno,
                field=fields.label,
            )
        if not label.strip():
            raise InputError("empty label", file=path, line=lineno, field=fields.label)
    _check_writable(obj, path, lineno)
    rid = obj.get("id", lineno)
    return Record(id=str(rid), text=text, label=label, line=lineno, data=obj)


def _check_writable(obj: dict[str, Any], path: str | os.PathLike, lineno: int) -> None:
    """Every field must survive being written back as JSON (outputs carry the input's fields): a
    lone surrogate ("\\ud800"), an infinite number, or Parquet's timestamps and bytes would
    otherwise fail only when the output is written, after all the work."""
    try:
        dumps(obj).encode("utf-8")
        return
    except (TypeError, ValueError, UnicodeEncodeError):
        pass
    for k, v in obj.items():
        try:
            dumps(v).encode("utf-8")
        except UnicodeEncodeError:
            raise InputError("contains a lone surrogate (not valid Unicode text)", file=path, line=lineno, field=k) from None
        except ValueError:
            raise InputError("an infinite or NaN number (JSON has no such value)", file=path, line=lineno, field=k) from None
        except TypeError:
            raise InputError(f"a {type(v).__name__} value, which JSON cannot hold; convert the column to text or numbers",
                             file=path, line=lineno, field=k) from None


def read_records(path: str | os.PathLike, fields: Fields = Fields(), **kw: Any) -> list[Record]:
    """Read and validate a whole file; raise on the first bad line, on duplicate ids and on no records."""
    records = list(iter_records(path, fields, **kw))
    if not records:
        raise InputError("no records (the file is empty)", file=path)
    seen: dict[str, int] = {}
    for r in records:
        if r.id in seen:
            raise InputError(f"duplicate id {r.id!r} (first on line {seen[r.id]})", file=path, line=r.line, field="id")
        seen[r.id] = r.line
    return records


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files (atomic_write) and folders (atomic_dir) left beside `path` by a killed process,
    and those of its staged siblings (`.OUT.commit.tmp` is itself written through a temporary file,
    `..OUT.commit.tmp.XXXX.tmp`)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted({*path.parent.glob(f".{path.name}.*.tmp"), *path.parent.glob(f"..{path.name}.*.tmp")})


def remove_stale_temps(path: str | os.PathLike) -> int:
    """Delete what a killed writer of `path` left behind. Call it only while holding the job's
    lock (resume.job_lock), so that no live writer's temporary file is taken."""
    n = 0
    for t in temp_files(path):
        if t.is_dir():  # atomic_dir's
            shutil.rmtree(t, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                t.unlink()
        n += 1
    return n


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[io.TextIOBase]:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file.
    The file gets the permissions a plain open() would (mkstemp's 0600 respects no umask); a
    directory that cannot be written is an InputError naming it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise InputError(f"cannot write here ({e.strerror or e})", file=path) from e
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, FileNotFoundError):
            raise InputError(f"cannot write ({e.strerror or e})", file=path) from e
        raise


def restore_swapped(path: Path) -> None:
    """A process killed between atomic_dir's two renames leaves the old folder aside as
    `.NAME.old-PID` and no NAME: put it back; once NAME is in place, drop what is left aside."""
    if not path.parent.is_dir():
        return
    for old in sorted(path.parent.glob(f".{path.name}.old-*")):
        if not path.exists():
            os.replace(old, path)
            log.warning("restored %s, left aside by a run killed while replacing it", path)
        else:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False, flag: str = "--overwrite") -> Iterator[Path]:
    """Build a directory in a hidden temporary sibling, then put it in place: a failed or killed
    build leaves `path` as it was (an earlier finished folder untouched) and no half-made folder.
    An existing `path` is refused unless `overwrite`."""
    path = Path(path)
    restore_swapped(path)
    if path.exists() and not overwrite:
        raise InputError(f"already exists; use {flag} to replace it", file=path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as e:
        raise InputError(f"cannot write here ({e.strerror or e})", file=path) from e
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        # Some writers create private files (safetensors writes model.safetensors 0600): the folder
        # gets the permissions any file made here would have, whatever wrote it.
        for p in tmp.rglob("*"):
            if not p.is_symlink():
                os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~_umask())
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    with atomic_write(path) as fh:
        for row in rows:
            fh.write(dumps(row) + "\n")
            n += 1
    return n


def _json_safe(obj: Any) -> Any:
    """nan and inf (an SEM of one value, an F1 with no support) as null: strict JSON has neither."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> None:
    """`obj` as strict JSON (nan and inf written as null), atomically."""
    with atomic_write(path) as fh:
        json.dump(_json_safe(obj), fh, ensure_ascii=False, indent=indent, allow_nan=False)
        fh.write("\n")
