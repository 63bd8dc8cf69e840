"""Input discovery for `score`: SPL .xml files, directories of them, and zip archives, including
DailyMed's bulk releases (an outer zip of `prescription/DATE_SETID.zip`, each holding the label XML).

Archives are read as streams, never extracted to disk. Nested zips are opened in memory, one at a
time. Limits guard against hostile archives: the declared uncompressed size of any member, its
compression ratio, the nesting depth and the member count are checked before reading, and reads
stop at the size limit whatever the header says. A refused archive or member is reported as
(name, reason) and the rest of the job goes on.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MiB = 1 << 20
# What reading a damaged, encrypted or oddly compressed member raises, besides OSError: a bad CRC
# or header (BadZipFile), truncated or corrupt deflate data (EOFError, zlib.error), encryption
# (RuntimeError) and compression methods zipfile lacks (NotImplementedError).
MEMBER_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, RuntimeError, NotImplementedError)
READABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def printable(name: str) -> str:
    """An archive member's name as one line: control characters (a newline would fake another
    error line) escaped as Python writes them."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


@dataclass(frozen=True)
class ArchiveLimits:
    max_member_bytes: int = 256 * MiB  # uncompressed size of a nested archive (DailyMed's hold the label's images too)
    max_xml_bytes: int = 32 * MiB  # one label's XML: the largest of 713 real prescription labels is 0.4 MB; lxml's tree of a
    # document takes about ten times its size, so this bounds a document's memory, whatever the archive declares
    max_ratio: float = 200.0  # uncompressed / compressed, checked for members over 1 MiB
    max_depth: int = 3  # archives inside archives, the outermost counting as 1
    max_members: int = 1_000_000  # entries of one archive


@dataclass
class SplSource:
    name: str  # file path, or ARCHIVE.zip!member.xml (ARCHIVE.zip!inner.zip!member.xml when nested)
    path: Path
    reader: Callable[[], bytes] | None = None

    def read(self) -> bytes:
        """The XML bytes; OSError when the file or archive member cannot be read within the limits."""
        try:
            return self.reader() if self.reader is not None else self.path.read_bytes()
        except MEMBER_ERRORS as e:
            raise OSError(f"unreadable archive member ({type(e).__name__}: {e})") from e


class _TooLarge(OSError):
    pass


def _cap(name: str, limits: ArchiveLimits) -> int:
    return limits.max_xml_bytes if name.lower().endswith(".xml") else limits.max_member_bytes


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits) -> bytes:
    cap = _cap(info.filename, limits)
    out, left = bytearray(), cap
    with z.open(info) as fh:
        while chunk := fh.read(min(MiB, left + 1)):
            left -= len(chunk)
            if left < 0:
                raise _TooLarge(f"member inflates past the {cap:,}-byte limit")
            out += chunk
    return bytes(out)


def _check_member(info: zipfile.ZipInfo, limits: ArchiveLimits) -> str | None:
    if info.flag_bits & 0x1:
        return "member is encrypted"
    if info.compress_type not in READABLE:
        return f"member uses compression method {info.compress_type}, which zipfile cannot read"
    cap = _cap(info.filename, limits)
    if info.file_size > cap:
        return f"member declares {info.file_size:,} bytes, over the {cap:,}-byte limit"
    if info.file_size > MiB and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        return f"member compression ratio {info.file_size / max(info.compress_size, 1):.0f}:1 exceeds {limits.max_ratio:.0f}:1"
    return None


def _iter_zip(z: zipfile.ZipFile, name: str, path: Path, depth: int, limits: ArchiveLimits) -> Iterator[SplSource | tuple[str, str]]:
    infos = z.infolist()
    if len(infos) > limits.max_members:
        yield name, f"archive holds {len(infos):,} members, over the {limits.max_members:,} limit"
        return
    found = False
    for info in sorted(infos, key=lambda i: i.filename):
        low = info.filename.lower()
        member = f"{name}!{printable(info.filename)}"
        if info.is_dir() or not low.endswith((".xml", ".zip")):
            continue
        found = True
        reason = _check_member(info, limits)
        if reason:
            yield member, reason
        elif low.endswith(".xml"):
            yield SplSource(member, path, lambda z=z, info=info: _read_member(z, info, limits))
        elif depth >= limits.max_depth:
            yield member, f"archive nested deeper than {limits.max_depth} levels"
        else:
            try:
                inner = zipfile.ZipFile(io.BytesIO(_read_member(z, info, limits)))
            except _TooLarge as e:
                yield member, str(e)
                continue
            except (OSError, *MEMBER_ERRORS) as e:
                yield member, f"not a readable zip archive ({type(e).__name__}: {e})"
                continue
            with inner:
                yield from _iter_zip(inner, member, path, depth + 1, limits)
    if not found:
        yield name, "zip archive holds no .xml file"


def iter_sources(inputs: list[str | Path], limits: ArchiveLimits = ArchiveLimits()) -> Iterator[SplSource | tuple[str, str]]:
    """Yield SplSource, or (name, reason) for an input, archive or member that cannot be read.

    Lazy: an archive stays open while its members are yielded, so read each source before
    asking for the next."""
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            files = sorted(x for x in p.rglob("*") if x.suffix.lower() in (".xml", ".zip") and x.is_file())
            if not files:
                yield str(p), "directory holds no .xml or .zip file"
            yield from iter_sources(files, limits)
        elif not p.exists():
            yield str(p), "file not found"
        elif p.suffix.lower() == ".zip":
            try:
                z = zipfile.ZipFile(p)
            except (zipfile.BadZipFile, OSError) as e:
                yield str(p), f"not a zip archive ({e})"
                continue
            with z:
                try:
                    yield from _iter_zip(z, str(p), p, 1, limits)
                except (OSError, *MEMBER_ERRORS) as e:
                    yield str(p), f"archive became unreadable ({type(e).__name__}: {e})"
        elif p.stat().st_size > limits.max_xml_bytes:
            yield str(p), f"file is {p.stat().st_size:,} bytes, over the {limits.max_xml_bytes:,}-byte limit"
        else:
            yield SplSource(str(p), p)
