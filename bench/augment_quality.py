"""Back-translation (Bergamot en->pt->en) against EDA on the bundled ADME paragraphs: the
augmented corpora's quality (`aug report`) and what each engine costs.

1. `aug eda` and `aug backtranslate --engine bergamot --pivot pt` on
   src/prefit/demo_data/adme_paragraphs.jsonl (960 paragraphs, balanced to the largest class,
   `--variants 4`: Bergamot's four segmentation strategies, bergamot.py), then `aug report` of each:
   near-copies, content-word overlap, label preservation (cross-fitted probes), closeness, and the
   distinct augmented texts per source.
2. Throughput on the same 256 real ADME sentences: Bergamot round trips (en->pt->en) with 1 and 2
   threads; each job's own sentences/s (its summary) for scale. Different models doing different
   work: this is what a user gets, not an engine race.

Writes bench/results/augment_quality.json.

    python bench/augment_quality.py
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, sh, write_result  # noqa: E402

DATA = ROOT / "src" / "prefit" / "demo_data" / "adme_paragraphs.jsonl"


def sentences(n: int) -> list[str]:
    out = []
    for line in DATA.read_text().splitlines():
        for s in re.split(r"(?<=[a-z0-9)][.])\s+(?=[A-Z])", json.loads(line)["text"]):
            if 8 <= len(s.split()) <= 40 and s not in out:
                out.append(s)
        if len(out) >= n:
            break
    return out[:n]


def main() -> None:
    from prefit.stages.augment.bergamot import BergamotBackTranslator, bergamot_dirs

    bindir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="prefit-augq-"))
    corpora = {}
    for name, args in (("eda", ["eda", "--variants", "4"]), ("backtranslate", ["backtranslate", "--engine", "bergamot", "--pivot", "pt",
                                                                               "--variants", "4"])):
        out = work / f"{name}.jsonl"
        t = time.perf_counter()
        sh(work, str(bindir / "aug"), *args, str(DATA), "-o", str(out), "-q")
        seconds = time.perf_counter() - t
        sh(work, str(bindir / "aug"), "report", str(DATA), str(out), "-o", str(work / f"report-{name}"), "-q")
        corpora[name] = {"seconds": round(seconds, 1), "summary": json.loads((work / f"{name}.summary.json").read_text()),
                         "report": json.loads((work / f"report-{name}" / "report.json").read_text())}
    sents = sentences(256)
    speed = {}
    for threads in (1, 2):
        bt = BergamotBackTranslator({"pt": bergamot_dirs("en", "pt")}, threads=threads)
        bt.back_translate(sents[:8], "pt", 1)  # warm-up
        t = time.perf_counter()
        bt.back_translate(sents, "pt", 1)
        speed[f"bergamot round trip, {threads} thread(s)"] = len(sents) / (time.perf_counter() - t)
    print(json.dumps(speed, indent=1))
    rows = {k: {"overall": v["report"]["overall"], "seconds": v["seconds"], "job_sentences_per_second": v["summary"]["sentences_per_second"],
                "kept": sum(c["kept"] for c in v["summary"]["classes"].values()),
                "dropped": v["summary"]["dropped"]} for k, v in corpora.items()}
    for k, v in rows.items():
        o = v["overall"]
        print(f"{k:14s} kept {v['kept']:5d}  near-copies {o['near_copies']:.3f}  label preserved {o['label_preserved']:.3f} "
              f"(originals {o['originals_cv_preserved']:.3f})  overlap median {o['token_overlap']['median']:.3f}  "
              f"distinct/source {o['distinct_per_source']['mean']:.2f}  {v['seconds']:.0f}s")
    write_result("augment_quality", {"machine": machine(), "data": str(DATA.relative_to(ROOT)), "sentences_per_second": speed,
                                     "sentences": len(sents), "corpora": rows,
                                     "reports": {k: v["report"]["classes"] for k, v in corpora.items()}})


if __name__ == "__main__":
    main()
