"""The built-in ADME labeller (prefit/builtin.py): `score LABELS -o OUT` with no --model."""

from __future__ import annotations

import gzip
import json

import pytest
from click.testing import CliRunner
from conftest import read_jsonl

from prefit import builtin
from prefit.cli.score import main as score


def test_shipped_data_is_the_labelled_dev_paragraphs():
    rows = [json.loads(x) for x in gzip.decompress(builtin.data_bytes()).decode().splitlines()]
    assert len(rows) == 1196 and len({r["text"] for r in rows}) == len(rows)
    assert {r["label"] for r in rows} == {"Absorption", "Distribution", "Metabolism", "Excretion", "Other"}
    assert all(r["group"] and r["set_id"] for r in rows)


def test_shipped_backtranslation_rephrases_the_minority_paragraphs():
    """The pre-finetuning corpus of the recipe (bench/make_builtin_adme.py): Bergamot round trips of
    the shipped paragraphs of the classes below the largest, each traced to its source."""
    from importlib.resources import files

    src = {r["id"]: r for r in map(json.loads, gzip.decompress(builtin.data_bytes()).decode().splitlines())}
    bt = [json.loads(x) for x in gzip.decompress(files("prefit").joinpath(builtin.RECIPE["augment"]["corpus"]).read_bytes()).decode().splitlines()]
    assert len(bt) > 1000 and {r["augmenter"] for r in bt} == {"backtranslate"} and {r["pivot"] for r in bt} == {"pt"}
    assert "Other" not in {r["label"] for r in bt}  # the largest class is not augmented
    assert all(r["source_id"] in src and src[r["source_id"]]["label"] == r["label"] for r in bt)
    assert sum(r["text"] != src[r["source_id"]]["text"] for r in bt) == len(bt)  # identical outputs are filtered


def test_cache_key_follows_the_recipe(monkeypatch):
    key = builtin.build_key()
    monkeypatch.setattr(builtin, "RECIPE", {**builtin.RECIPE, "seed": 8})
    assert builtin.build_key() != key


@pytest.fixture(scope="module")
def labeller():
    """The labeller `./run setup` built in the user's cache (read only); built into the test
    session's private cache when it is absent."""
    from pathlib import Path

    from conftest import USER_CACHE

    try:
        return builtin.labeller_dir(build=False, root=Path(USER_CACHE) if USER_CACHE else builtin.default_cache_root())
    except FileNotFoundError:
        return builtin.labeller_dir(progress=False)


@pytest.mark.slow
def test_score_without_model_labels_the_sample_labels(labeller, tmp_path, monkeypatch):
    """`score src/prefit/demo_data/spl -o OUT` on the five bundled sample labels."""
    from importlib.resources import files

    monkeypatch.setenv("PREFIT_CACHE", str(labeller.parent.parent))
    out = tmp_path / "adme.jsonl"
    r = CliRunner().invoke(score, [str(files("prefit").joinpath("demo_data/spl")), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "built-in ADME labeller" in r.output
    rows = read_jsonl(out)
    card = json.loads((labeller / "card.json").read_text())
    assert card["recipe"] == builtin.RECIPE and set(card["labels"]) == {"Absorption", "Distribution", "Metabolism", "Excretion", "Other"}
    assert all(row["predicted_label"] in card["labels"] for row in rows)
    labelled = [row for row in rows if row["label"] is not None]
    agree = sum(row["predicted_label"] == row["label"] for row in labelled) / len(labelled)
    assert len(labelled) >= 60 and agree >= 0.8, agree  # measured: 55 of 63 (0.873) with the back-translation recipe
