"""Build src/prefit/data/adme_dev.jsonl.gz: the training data of the built-in ADME labeller.

Every distinct labelled pharmacokinetics paragraph of the DailyMed dev corpus
(../shared/data/spl-corpus/dailymed-rx-dev.zip, 713 public-domain prescription labels):
`score --extract-only` (labels by heading class, docs/spl.md), then `train split`'s
de-duplication, label-conflict resolution and drug grouping (generic names normalised), both
sides of its split together: the same rows bench/adme_cv.py cross-validates. Each record keeps
its drug group and one source (set id, version, heading).

    python bench/make_builtin_adme.py
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


def main() -> None:
    bindir = Path(sys.executable).parent
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


if __name__ == "__main__":
    main()
