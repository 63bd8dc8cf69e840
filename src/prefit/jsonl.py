"""Streaming JSONL input with precise errors, and atomic output."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefit.errors import InputError


@dataclass(frozen=True)
class Fields:
    """Which JSON fields hold the text and the label."""

    text: str = "text"
    label: str = "label"


@dataclass
class Record:
    """One validated input line: its id, text, label, and the whole original object."""

    id: str
    text: str
    label: str
    line: int
    data: dict[str, Any]


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_json_objects(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; raise InputError on bad JSON."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    with _open_text(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                raise InputError(f"invalid JSON ({e.msg} at column {e.colno})", file=path, line=lineno) from e
            if not isinstance(obj, dict):
                raise InputError(f"expected a JSON object, found {type(obj).__name__}", file=path, line=lineno)
            yield lineno, obj


def iter_records(
    path: str | os.PathLike,
    fields: Fields = Fields(),
    *,
    require_label: bool = True,
) -> Iterator[Record]:
    """Yield validated records. Text must be a non-empty string, label a string."""
    for lineno, obj in iter_json_objects(path):
        yield validate_record(obj, path, lineno, fields, require_label=require_label)


def validate_record(
    obj: dict[str, Any],
    path: str | os.PathLike,
    lineno: int,
    fields: Fields,
    *,
    require_label: bool = True,
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
        if not isinstance(label, str):
            raise InputError(
                f"expected a string label, found {type(label).__name__} ({json.dumps(label)})",
                file=path,
                line=lineno,
                field=fields.label,
            )
        if not label.strip():
            raise InputError("empty label", file=path, line=lineno, field=fields.label)
    rid = obj.get("id", lineno)
    return Record(id=str(rid), text=text, label=label, line=lineno, data=obj)


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
    return json.dumps(obj, ensure_ascii=False)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[io.TextIOBase]:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    with atomic_write(path) as fh:
        for row in rows:
            fh.write(dumps(row) + "\n")
            n += 1
    return n


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    with atomic_write(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
