"""Is the transformers' 128-token window what costs them against TF-IDF? Validation splits only.

TF-IDF + logistic regression (the `tfidf-lr` peer, C 1 as chosen in bench/quality.py) is fitted on
each protocol's selection split three times: on the whole post (up to 2,000 characters, as in the
table) and on the text the encoder sees at `--max-length 128` and 256 — the post cut where the
tokenizer's last word piece that fits ends. Macro-F1 on the validation split decides nothing
here; no test file is read.

    python bench/length_exploration.py        # needs bench/quality.py's selection splits
"""

from __future__ import annotations

import time

from _common import RESULTS, machine, print_table, write_result
from sklearn.metrics import f1_score

from prefit.jsonl import iter_objects
from prefit.stages.train.peers import fit_predict


def read(path) -> list[dict]:
    return [obj for _, obj in iter_objects(path)]


def cut(texts: list[str], tokenizer, max_length: int) -> list[str]:
    """Each text up to the end of the last word piece that fits in `max_length` (with [CLS] and [SEP])."""
    enc = tokenizer(texts, truncation=True, max_length=max_length, return_offsets_mapping=True)
    return [t[:max((e for _, e in offs), default=0)] for t, offs in zip(texts, enc["offset_mapping"])]


def main() -> None:
    from transformers import AutoTokenizer

    from prefit.model.embeddings import embedding_spec

    spec = embedding_spec(None, "auto", None)
    tokenizer = AutoTokenizer.from_pretrained(spec.model)
    rows, out = [], {}
    for protocol in ("step", "longtail"):
        split = RESULTS / "quality_work" / protocol / "compare" / "selection" / "split"
        if not (split / "val.jsonl").exists():
            split = RESULTS / "quality_work_b" / protocol / "compare" / "selection" / "split"
        train, val = read(split / "train.jsonl"), read(split / "val.jsonl")
        labels = sorted({r["label"] for r in train})
        y_tr, y_va = [labels.index(r["label"]) for r in train], [labels.index(r["label"]) for r in val]
        for n in (None, 128, 256):
            window = "whole post" if n is None else f"first {n} tokens"
            tr, va = [r["text"] for r in train], [r["text"] for r in val]
            if n is not None:
                tr, va = cut(tr, tokenizer, n), cut(va, tokenizer, n)
            t = time.perf_counter()
            _, proba, _ = fit_predict("tfidf-lr", tr, y_tr, va, c=1.0, seed=0, model=None, max_length=None, progress=False, cache_dir=None)
            f1 = f1_score(y_va, proba.argmax(-1), average="macro")
            chars = sum(map(len, va)) / len(va)
            rows.append([protocol, window, round(chars), f1, time.perf_counter() - t])
            out.setdefault(protocol, {})[window] = {"validation_macro_f1": f1, "mean_validation_chars": chars,
                                                    "n_train": len(tr), "n_val": len(va)}
    print_table(["protocol", "tfidf-lr C 1 reads", "mean chars", "val macro-F1", "seconds"], rows)
    write_result("length_exploration", {"what": __doc__.splitlines()[0], "machine": machine(), "results": out})


if __name__ == "__main__":
    main()
