"""Build src/prefit/demo_data/adme_paragraphs.jsonl: a compact ADME paragraph set for `./run demo`.

From the DailyMed dev corpus (../shared/data/spl-corpus, 713 labels): PK paragraphs with their
heading-derived labels (`score --extract-only`), de-duplicated by normalised text (`train split`'s
normalisation), minus every drug of the label samples the demo scores (naproxen, sildenafil,
dutasteride, adalimumab, atorvastatin), so the demo scores drugs the model never saw. Paragraphs
that no heading gives a topic have no label (null) and are left out, as `train split` does. Every
A/D/M/E paragraph is kept and at most --max-other "Other" ones (seeded). Each record keeps its source:
the number of labels it occurs in, up to three of their set ids and versions, and the normalised
drug group.

    python bench/make_demo_adme.py [--max-other 400]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED  # noqa: E402

SCORED_DRUGS = ("NAPROXEN", "SILDENAFIL", "DUTASTERIDE", "ADALIMUMAB", "ATORVASTATIN")


def main() -> None:
    from prefit.stages.train.split import canonical_drug, normalise

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-other", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paras = Path(tmp) / "paras.jsonl"
        subprocess.run([str(Path(sys.executable).parent / "score"), str(SHARED / "spl-corpus" / "dailymed-rx-dev.zip"), "--extract-only",
                        "-o", str(paras), "-q"], check=True)
        rows = [json.loads(x) for x in paras.read_text().splitlines()]
    by_text: dict[str, dict] = {}
    for r in rows:
        group = canonical_drug(" + ".join(r["generic_names"])) if r["generic_names"] else "(no generic_names)"
        if any(d in group for d in SCORED_DRUGS):
            continue
        rec = by_text.setdefault(normalise(r["text"]), {"text": r["text"], "labels": {}, "group": group, "sources": set()})
        if r["label"] is not None:
            rec["labels"][r["label"]] = rec["labels"].get(r["label"], 0) + 1
        rec["sources"].add(f"{r['set_id']}@{r['version']}")
    out, unlabelled = [], 0
    for rec in by_text.values():
        if not rec["labels"]:
            unlabelled += 1
            continue
        label = max(rec["labels"], key=lambda lab: rec["labels"][lab])
        out.append({"id": f"p{len(out):05d}", "text": rec["text"], "label": label, "group": rec["group"],
                    "copies": len(rec["sources"]), "sources": sorted(rec["sources"])[:3]})
    rng = random.Random(args.seed)
    other = [r for r in out if r["label"] == "Other"]
    keep_other = {r["id"] for r in rng.sample(other, min(args.max_other, len(other)))}
    final = [r for r in out if r["label"] != "Other" or r["id"] in keep_other]
    dest = ROOT / "src" / "prefit" / "demo_data" / "adme_paragraphs.jsonl"
    dest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in final))
    counts: dict[str, int] = {}
    for r in final:
        counts[r["label"]] = counts.get(r["label"], 0) + 1
    print(f"wrote {len(final)} paragraphs ({dest.stat().st_size / 1024:.0f} KB) to {dest}: {dict(sorted(counts.items()))}; "
          f"{len({r['group'] for r in final})} drug groups; {unlabelled} distinct paragraphs without a label left out")


if __name__ == "__main__":
    main()
