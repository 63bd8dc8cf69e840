"""Reading a text longer than the model's window: its first window, or every window (mean logits).

A classifier finetuned on the first `max_length` tokens of each text can still read the rest: cut
the whole text into consecutive windows of `max_length` tokens (each with the model's own special
tokens, [CLS] ... [SEP] for BERT), score every window, and average the logits per text — the
"mean of chunk logits" reading of long-document classification (e.g. Park et al., "Efficient
Classification of Long Documents Using Transformers", ACL 2022, who find such simple chunked
baselines hard to beat). `read="first"` is plain truncation; `read="windows"` with one window is
the same thing.

Measured (README, bench/window_exploration.py): a MiniLM two-stage model trained at 128 tokens
scores the 20 Newsgroups validation splits 0.652 -> 0.692 (step) and 0.691 -> 0.720 (long-tailed)
macro-F1 when it reads every window instead of the first, without retraining.

Training always reads the first window; evaluation (`train`), export metadata and `score` use
the reading the run records in `label_map.json`, so a score equals the run's own evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

READS = ("first", "windows")
DEFAULT_MAX_WINDOWS = 16  # 16 windows of 128 tokens: ~8,000 characters of English read per text


def window_ids(tok, texts: Sequence[str], max_length: int, max_windows: int = DEFAULT_MAX_WINDOWS) -> tuple[list[list[int]], list[int]]:
    """Every window of every text (token ids with the tokenizer's special tokens, at most
    `max_length` each, at most `max_windows` per text) and, per window, the index of its text.
    A text's first window is exactly what `tok(text, truncation=True, max_length=max_length)` gives."""
    if max_windows < 1:
        raise ValueError(f"max_windows must be >= 1, found {max_windows}")
    if not texts:
        return [], []
    texts = [read_prefix(tok, t, max_length, max_windows) for t in texts]
    # The tokenizer's own overflow (stride 0): consecutive windows, each with its special tokens.
    enc = tok(list(texts), truncation=True, max_length=max_length, return_overflowing_tokens=True, stride=0)
    seqs, owner, seen = [], [], [0] * len(texts)
    for ids, k in zip(enc["input_ids"], enc["overflow_to_sample_mapping"], strict=True):
        if seen[k] < max_windows:
            seqs.append(list(ids))
            owner.append(int(k))
        seen[k] += 1
    return seqs, owner


CHARS_PER_TOKEN = 16  # first guess of the characters a window needs (English: ~5 per token)


def read_prefix(tok, text: str, max_length: int, max_windows: int) -> str:
    """The shortest prefix of `text` (growing 4x from max_windows * max_length * CHARS_PER_TOKEN
    characters) that yields more than `max_windows` windows, or the whole text. Its first
    `max_windows` windows are exactly the whole text's: the cut can only split the last token,
    which lies in a window past the cap. So a 50 MB text costs the tokenizer a few KB, not GBs."""
    n = max_windows * max_length * CHARS_PER_TOKEN
    while n < len(text):
        cut = text[:n]
        if len(tok(cut, truncation=True, max_length=max_length, return_overflowing_tokens=True, stride=0)["input_ids"]) > max_windows:
            return cut
        n *= 4
    return text


def pad(seqs: Sequence[Sequence[int]], pad_id: int, pad_to: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """int64 input ids padded to the longest sequence (or to `pad_to`), and the attention mask."""
    n = max(len(s) for s in seqs) if pad_to is None else pad_to
    ids = np.full((len(seqs), n), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), n), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


def window_logits(seqs: Sequence[Sequence[int]], pad_id: int, logits_of: Callable[[np.ndarray, np.ndarray], np.ndarray],
                  batch_size: int = 64, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Logits of every window, in the order given; batches of similar length (little padding).
    `logits_of(input_ids, attention_mask)` is the model: numpy in, float logits out."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out: np.ndarray | None = None
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        lg = np.asarray(logits_of(*pad([seqs[i] for i in idx], pad_id)), dtype=np.float32)
        if out is None:
            out = np.zeros((len(seqs), lg.shape[1]), dtype=np.float32)
        out[idx] = lg
        if progress is not None:
            progress(len(idx))
    if out is None:
        raise ValueError("no windows to score")
    return out


def per_text(logits: np.ndarray, owner: Sequence[int], n_texts: int, read: str) -> np.ndarray:
    """Logits per text: its first window's ("first") or the mean over its windows ("windows")."""
    owner = np.asarray(owner)
    if read == "first":
        texts, first = np.unique(owner, return_index=True)
        if len(texts) != n_texts:
            raise ValueError(f"every text needs a window: {n_texts} texts, windows for {len(texts)}")
        return logits[first]
    if read == "windows":
        total = np.zeros((n_texts, logits.shape[1]), dtype=np.float64)
        np.add.at(total, owner, logits)
        return (total / np.bincount(owner, minlength=n_texts)[:, None]).astype(np.float32)
    raise ValueError(f"read must be one of {', '.join(READS)}, found {read!r}")


def text_logits(tok, texts: Sequence[str], logits_of: Callable[[np.ndarray, np.ndarray], np.ndarray], *, max_length: int, read: str,
                max_windows: int = DEFAULT_MAX_WINDOWS, batch_size: int = 32) -> np.ndarray:
    """Logits per text under `read`: the one function `train`'s evaluation, the PyTorch predictor
    and the onnxruntime scorer share, so that they agree."""
    if read not in READS:
        raise ValueError(f"read must be one of {', '.join(READS)}, found {read!r}")
    seqs, owner = window_ids(tok, texts, max_length, max_windows if read == "windows" else 1)
    return per_text(window_logits(seqs, tok.pad_token_id, logits_of, batch_size), owner, len(texts), read)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(-1, keepdims=True)
