"""Build src/prefit/data/adme_dev.jsonl.gz: the training data of the built-in ADME labeller, and
src/prefit/data/adme_dev_bt.jsonl.gz: its back-translated minority paragraphs (the corpus the
labeller pre-finetunes on, shipped so that building it needs no translation engine).

Every distinct labelled pharmacokinetics paragraph of the DailyMed dev corpus
(../shared/data/spl-corpus/dailymed-rx-dev.zip, 713 public-domain prescription labels):
`score --extract-only` (labels by heading class, docs/spl.md), then `train split`'s
de-duplication, label-conflict resolution and drug grouping (generic names normalised), both
sides of its split together: the same rows bench/adme_cv.py cross-validates. Each record keeps
its drug group and one source (set id, version, heading).

The back-translation is `aug backtranslate --engine bergamot --pivot pt --variants 4 --balance max
--seed 13 --no-originals` on adme_dev.jsonl: deterministic (Bergamot has no sampling; the job is
seeded), so a rebuild writes the same bytes.

    python bench/make_builtin_adme.py [--backtranslate-only]
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED  # noqa: E402

KEEP = ("id", "text", "label", "group", "set_id", "version", "heading")


BT = ["--engine", "bergamot", "--pivot", "pt", "--variants", "4", "--balance", "max", "--seed", "13", "--no-originals"]
BT_KEEP = ("id", "text", "label", "source_id", "augmenter", "pivot", "variant")


def backtranslated(source: Path, bindir: Path) -> None:
    """adme_dev_bt.jsonl.gz from adme_dev.jsonl.gz (see the module's docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "train.jsonl").write_bytes(gzip.decompress(source.read_bytes()))
        subprocess.run([str(bindir / "aug"), "backtranslate", str(tmp / "train.jsonl"), "-o", str(tmp / "bt.jsonl"), *BT, "-q"], check=True)
        rows = [json.loads(x) for x in (tmp / "bt.jsonl").read_text().splitlines()]
    dest = source.with_name("adme_dev_bt.jsonl.gz")
    payload = "".join(json.dumps({k: r[k] for k in BT_KEEP if k in r}, ensure_ascii=False) + "\n" for r in rows).encode()
    with open(dest, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(payload)
    print(f"wrote {len(rows)} back-translated paragraphs ({dest.stat().st_size / 1024:.0f} KB) to {dest}: "
          f"{dict(sorted(Counter(r['label'] for r in rows).items()))}")


def main() -> None:
    bindir = Path(sys.executable).parent
    if "--backtranslate-only" in sys.argv:
        return backtranslated(ROOT / "src" / "prefit" / "data" / "adme_dev.jsonl.gz", bindir)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([str(bindir / "score"), str(SHARED / "spl-corpus" / "dailymed-rx-dev.zip"), "--extract-only", "-o",
                        str(tmp / "paras.jsonl"), "-q"], check=True)
        subprocess.run([str(bindir / "train"), "split", str(tmp / "paras.jsonl"), "-o", str(tmp / "split"), "--group-field",
                        "generic_names", "--group-normalise", "drug", "--test-fraction", "0.2", "--seed", "0", "-q"], check=True)
        rows = [json.loads(x) for name in ("train", "test") for x in (tmp / "split" / f"{name}.jsonl").read_text().splitlines()]
    rows.sort(key=lambda r: r["id"])
    dest = ROOT / "src" / "prefit" / "data" / "adme_dev.jsonl.gz"
    dest.parent.mkdir(parents=True, exist_ok=True)
    payload = "".join(json.dumps({k: r[k] for k in KEEP}, ensure_ascii=False) + "\n" for r in rows).encode()
    with open(dest, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:  # mtime 0: the same bytes every build
        gz.write(payload)
    counts = Counter(r["label"] for r in rows)
    print(f"wrote {len(rows)} paragraphs ({dest.stat().st_size / 1024:.0f} KB) to {dest}: {dict(sorted(counts.items()))}; "
          f"{len({r['group'] for r in rows})} drug groups")
    backtranslated(dest, bindir)


if __name__ == "__main__":
    main()
