"""Resumable chunked batch jobs.

A job is a deterministic list of work chunks. Each finished chunk is written atomically to
`OUT.parts/chunk-NNNNNN.json`; a re-run with the same arguments (same fingerprint) skips the
chunks already there. When every chunk is done the final output is assembled atomically and the
parts directory is removed. A killed run therefore loses at most the chunk in flight and never
leaves a half-written line in OUT.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from prefit.errors import InputError
from prefit.jsonl import write_json_atomic

log = logging.getLogger("prefit")


def fingerprint(settings: dict[str, Any]) -> str:
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class ChunkStore:
    def __init__(self, out_path: str | Path, settings: dict[str, Any], *, overwrite: bool = False) -> None:
        self.out_path = Path(out_path)
        self.parts = self.out_path.with_name(self.out_path.name + ".parts")
        self.fp = fingerprint(settings)
        if overwrite:
            shutil.rmtree(self.parts, ignore_errors=True)
        elif self.out_path.exists() and not self.parts.exists():
            raise InputError("output already exists; use --overwrite to replace it", file=self.out_path)
        manifest = self.parts / "manifest.json"
        if self.parts.exists() and manifest.exists():
            found = json.loads(manifest.read_text()).get("fingerprint")
            if found != self.fp:
                raise InputError(
                    "an unfinished run with different arguments or input is here "
                    f"({self.parts.name}); re-run with the same arguments to resume, or use --overwrite",
                    file=self.out_path,
                )
            log.info("resuming: %d chunk(s) already done in %s", len(self.done()), self.parts)
        else:
            self.parts.mkdir(parents=True, exist_ok=True)
            write_json_atomic(manifest, {"fingerprint": self.fp, "settings": settings})

    def _path(self, i: int) -> Path:
        return self.parts / f"chunk-{i:06d}.json"

    def done(self) -> set[int]:
        return {int(p.stem.split("-")[1]) for p in self.parts.glob("chunk-*.json")}

    def has(self, i: int) -> bool:
        return self._path(i).exists()

    def put(self, i: int, payload: dict[str, Any]) -> None:
        write_json_atomic(self._path(i), payload)

    def get(self, i: int) -> dict[str, Any]:
        return json.loads(self._path(i).read_text())

    def cleanup(self) -> None:
        shutil.rmtree(self.parts, ignore_errors=True)
