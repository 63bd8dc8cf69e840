"""What windowed reading costs: windows and tokens per text against the first window alone.

`--read windows` (train's default since 2026-12-02) scores every max-length window of a text;
scoring time grows with the tokens read. Counted with the packaged MiniLM tokenizer on the PK
paragraphs of the DailyMed dev corpus (`score --extract-only`, as bench/adme.py reads them) at 128
and 256 tokens (256: bench/adme.py's and the demo's drug-label length), and on the 20 Newsgroups
posts as bench/quality.py cuts them (headers removed, 2,000 characters) at 128. Tokenization
only: nothing is scored.

    python bench/window_counts.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import SHARED, body, machine, newsgroups, print_table, write_result


def counts(tok, texts: list[str], max_length: int) -> dict:
    from prefit.model.windows import DEFAULT_MAX_WINDOWS, window_ids

    seqs, owner = window_ids(tok, texts, max_length, DEFAULT_MAX_WINDOWS)
    per_text = np.bincount(owner, minlength=len(texts))
    first = {o: i for i, o in reversed(list(enumerate(owner)))}  # each text's first window
    tokens_all, tokens_first = sum(map(len, seqs)), sum(len(seqs[i]) for i in first.values())
    return {"texts": len(texts), "windows": len(seqs), "windows_per_text": len(seqs) / len(texts),
            "texts_over_one_window": int((per_text > 1).sum()), "most_windows": int(per_text.max()),
            "tokens_read_vs_first_window": tokens_all / tokens_first}


def main() -> None:
    from transformers import AutoTokenizer

    from prefit.model.registry import resolve_encoder

    tok = AutoTokenizer.from_pretrained(resolve_encoder(None))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "paragraphs.jsonl"
        subprocess.run([str(Path(sys.executable).with_name("score")), str(SHARED / "spl-corpus" / "dailymed-rx-dev.zip"),
                        "--extract-only", "-o", str(out), "-q"], check=True)
        paragraphs = [json.loads(line)["text"] for line in out.read_text().splitlines()]
    posts = [" ".join(body(r["text"]).split())[:2000] for r in newsgroups()]
    res = {f"dailymed PK paragraphs @ {n}": counts(tok, paragraphs, n) for n in (128, 256)}
    res["20 Newsgroups posts @ 128"] = counts(tok, [p for p in posts if p.strip()], 128)
    print_table(["texts", "n", "windows / text", "texts > 1 window", "most", "tokens vs first window"],
                [[k, v["texts"], v["windows_per_text"], v["texts_over_one_window"], v["most_windows"], v["tokens_read_vs_first_window"]]
                 for k, v in res.items()])
    write_result("window_counts", {"what": __doc__.splitlines()[0], "machine": machine(), "results": res})


if __name__ == "__main__":
    main()
