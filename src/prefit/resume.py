"""Resumable chunked batch jobs.

A job is a deterministic list of work chunks. Each finished chunk is written atomically to
`OUT.parts/chunk-NNNNNN.json`; a re-run with the same arguments (same fingerprint) skips the
chunks already there. When every chunk is done the final output is assembled atomically and the
parts directory is removed. A killed run therefore loses at most the chunk in flight and never
leaves a half-written line in OUT.

One run at a time per output: job_lock holds `OUT.lock` (an OS file lock, released when the
process dies) for the whole job, and a parts folder is reused only with a manifest whose
fingerprint matches; chunks without one are discarded, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefit.errors import InputError
from prefit.jsonl import remove_stale_temps, write_json_atomic

log = logging.getLogger("prefit")


def fingerprint(settings: dict[str, Any]) -> str:
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@contextlib.contextmanager
def job_lock(out_path: str | Path) -> Iterator[None]:
    """Hold OUT.lock for the duration of a job; a second job on the same output is refused with
    one line. Temporary files a killed earlier run left beside OUT are removed under the lock."""
    from filelock import FileLock, Timeout

    out_path = Path(out_path)
    lock_path = out_path.with_name(out_path.name + ".lock")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_path, timeout=0)
        lock.acquire()
    except Timeout as e:
        raise InputError(f"another run is writing this output (it holds {lock_path.name}); wait for it to finish",
                         file=out_path) from e
    except OSError as e:
        raise InputError(f"cannot write here ({e.strerror or e})", file=out_path) from e
    try:
        remove_stale_temps(out_path)
        yield
    finally:
        lock.release()
        with contextlib.suppress(OSError):
            lock_path.unlink()


def _ours(name: str) -> bool:
    """What a ChunkStore writes in OUT.parts: chunks, the manifest and their temporary files."""
    return name.startswith(("chunk-", "manifest.json", ".chunk-", ".manifest.json"))


class ChunkStore:
    def __init__(self, out_path: str | Path, settings: dict[str, Any], *, overwrite: bool = False,
                 existing_output_ok: bool = False) -> None:
        """`existing_output_ok`: the job adds to an existing OUT (the caller has checked that OUT was
        written with the same settings), so OUT's presence alone is no reason to refuse."""
        self.out_path = Path(out_path)
        self.parts = self.out_path.with_name(self.out_path.name + ".parts")
        self.fp = fingerprint(settings)
        if self.parts.exists() and not self.parts.is_dir():
            raise InputError(f"{self.parts.name} is a file, where prefit keeps this output's finished chunks; move it or choose another "
                             "output", file=self.parts)
        manifest = self.parts / "manifest.json"
        found = None
        if manifest.exists():
            try:
                found = json.loads(manifest.read_text()).get("fingerprint")
            except (OSError, ValueError, AttributeError):
                found = None  # unreadable: treated as absent
        if self.out_path.exists() and not overwrite and found != self.fp and not existing_output_ok:
            raise InputError("output already exists; use `overwrite=True` to replace it", file=self.out_path)
        if found is not None and found != self.fp and not overwrite:
            raise InputError(
                "an unfinished run with different arguments or input is here "
                f"({self.parts.name}); re-run with the same arguments to resume, or use --overwrite",
                file=self.out_path,
            )
        if found == self.fp and not overwrite:
            self._drop_unreadable()
            log.info("resuming: %d chunk(s) already done in %s", len(self.done()), self.parts)
        else:
            # No manifest (a run died before writing it), another run's, or --overwrite: nothing
            # in the folder can be trusted. A folder holding anything prefit does not write there
            # is not ours to delete.
            foreign = sorted(p.name for p in self.parts.iterdir() if not _ours(p.name)) if self.parts.is_dir() else []
            if foreign and found is None:
                raise InputError(f"{self.parts.name} holds files prefit did not write ({', '.join(foreign[:3])}); move them or choose "
                                 "another output", file=self.parts)
            shutil.rmtree(self.parts, ignore_errors=True)
            self.parts.mkdir(parents=True, exist_ok=True)
            write_json_atomic(manifest, {"fingerprint": self.fp, "settings": settings})

    def _drop_unreadable(self) -> None:
        """A chunk file damaged after it was written (truncated, edited) is work to redo, not a
        reason to fail: it is removed with a warning and computed again."""
        for p in sorted(self.parts.glob("chunk-*.json")):
            try:
                if not isinstance(json.loads(p.read_text(encoding="utf-8")), dict):
                    raise ValueError("not a JSON object")
            except (OSError, UnicodeDecodeError, ValueError) as e:
                log.warning("unreadable finished chunk %s (%s): computing it again", p.name, e)
                p.unlink(missing_ok=True)

    def _path(self, i: int) -> Path:
        return self.parts / f"chunk-{i:06d}.json"

    def done(self) -> set[int]:
        return {int(p.stem.split("-")[1]) for p in self.parts.glob("chunk-*.json")}

    def put(self, i: int, payload: dict[str, Any]) -> None:
        write_json_atomic(self._path(i), payload, indent=None)  # work files: compact, written and read once

    def get(self, i: int) -> dict[str, Any]:
        return json.loads(self._path(i).read_text())

    def cleanup(self) -> None:
        shutil.rmtree(self.parts, ignore_errors=True)
