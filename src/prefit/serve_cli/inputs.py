"""Input discovery for `score`: SPL .xml files, directories of them, DailyMed .zip archives."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class SplSource:
    name: str  # file path, or ARCHIVE.zip!member.xml
    path: Path
    member: str | None = None

    def read(self) -> bytes:
        if self.member is None:
            return self.path.read_bytes()
        with zipfile.ZipFile(self.path) as z:
            return z.read(self.member)


def iter_sources(inputs: list[str | Path]) -> Iterator[SplSource | tuple[str, str]]:
    """Yield SplSource, or (name, reason) for an input that cannot be read at all."""
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            files = sorted(x for x in p.rglob("*") if x.suffix.lower() in (".xml", ".zip") and x.is_file())
            yield from iter_sources(files)
        elif not p.exists():
            yield str(p), "file not found"
        elif p.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(p) as z:
                    members = sorted(n for n in z.namelist() if n.lower().endswith(".xml"))
            except zipfile.BadZipFile as e:
                yield str(p), f"not a zip archive ({e})"
                continue
            if not members:
                yield str(p), "zip archive holds no .xml file"
            for m in members:
                yield SplSource(f"{p}!{m}", p, m)
        else:
            yield SplSource(str(p), p)
