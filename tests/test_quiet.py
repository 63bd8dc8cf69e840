"""-q means nothing but errors (and a warning when an augmented corpus is left short of its
target, #37 item 30): every command, run as a user runs it (the console script in a subprocess, so
that what libraries write straight to the process's stdout/stderr counts too)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SPL_DIR, separable_rows, write_jsonl

BIN = Path(sys.executable).parent
SPL = SPL_DIR / "c6e131fe-e7df-4876-83f7-9156fc4e8228.xml"


@pytest.fixture(scope="module")
def work(tmp_path_factory, separable):
    d = tmp_path_factory.mktemp("quiet")
    write_jsonl(d / "balanced.jsonl", separable_rows(20, 5))
    return d


def _quiet(cwd: Path, *args, allowed: str = "") -> None:
    env = dict(os.environ, PYTHONWARNINGS="default")  # warnings that -q silences must not merely be hidden by pytest
    p = subprocess.run([str(BIN / args[0]), *map(str, args[1:]), "-q"], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    err = "".join(x for x in p.stderr.splitlines(keepends=True) if not (allowed and x.startswith(allowed)))
    assert (p.stdout, err) == ("", ""), f"{args[:2]} printed with -q:\n{p.stdout}{p.stderr}"


@pytest.mark.slow
def test_every_command_is_silent_with_q(work, separable, tiny_bert, copy_model_hf, models_dir, imbalanced_jsonl):
    w = work
    _quiet(w, "aug", "imbalance", w / "balanced.jsonl", "-o", w / "imb.jsonl", "--kind", "step", "--ratio", "0.3", "--seed", "0")
    _quiet(w, "aug", "eda", separable["train"], "-o", w / "eda.jsonl")
    _quiet(w, "aug", "backtranslate", imbalanced_jsonl, "-o", w / "bt.jsonl", "--models-dir", models_dir, "--pivot", "de",
           allowed="warning: short of target: ")  # the copy models' outputs are near-copies: some are filtered
    _quiet(w, "aug", "report", separable["train"], w / "eda.jsonl", "-o", w / "report", "--max-augmented-per-class", "10")
    _quiet(w, "aug", "models", "convert", copy_model_hf, w / "ct2")
    common = ["--train", separable["train"], "--eval", separable["eval"], "--model", tiny_bert, "--max-length", "32"]
    _quiet(w, "train", "vanilla", *common, "-o", w / "run", "--epochs", "1")
    _quiet(w, "train", "tfidf-lr", "--train", separable["train"], "--eval", separable["eval"], "-o", w / "peer")
    _quiet(w, "train", "compare", *common, "--augmented", w / "eda.jsonl", "--methods", "tfidf-lr,two-stage", "--seeds", "1",
           "--epochs", "1", "-o", w / "cmp")
    _quiet(w, "train", "split", separable["train"], "-o", w / "split")
    _quiet(w, "train", "export", w / "run", "-o", w / "export", "--int8")
    _quiet(w, "score", SPL, "--model", w / "export", "-o", w / "scored.jsonl")
    _quiet(w, "score", separable["eval"], "--model", w / "run", "-o", w / "texts.jsonl")
