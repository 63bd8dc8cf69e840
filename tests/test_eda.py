import json
import random

import pytest
from click.testing import CliRunner
from conftest import read_jsonl

from prefit.cli.augment import main as aug
from prefit.stages.augment.eda import Eda, EdaOptions

TEXT = "The tablet is absorbed rapidly after oral administration and excreted mainly by the kidney"


@pytest.fixture(scope="module")
def eda():
    return Eda()


def test_synonym_replacement_offline_without_pos_tagger(eda, monkeypatch):
    import nltk

    def no_download(*a, **k):
        raise AssertionError("nltk.download must never be called")

    monkeypatch.setattr(nltk, "download", no_download)
    random.seed(0)  # nlpaug draws from the global RNG
    out = eda.augment(TEXT, "synonym", random.Random(0))
    assert out != TEXT
    synonym_words = {w for word in TEXT.split() for s in eda.wordnet.predict(word) for w in s.lower().replace("_", " ").replace("-", " ").split()}
    new_words = {w.lower() for w in out.split()} - {w.lower() for w in TEXT.split()}
    assert new_words and new_words <= synonym_words, (out, new_words)


@pytest.mark.parametrize("op,delta", [("insert", 1), ("delete", -1), ("swap", 0)])
def test_operations_change_alpha_words(eda, op, delta):
    random.seed(1)
    out = eda.augment(TEXT, op, random.Random(1))
    assert out != TEXT
    n = len(TEXT.split())  # 14 words, alpha 0.1: one or two words change (nlpaug rounds up)
    assert delta * len(out.split()) - delta * n in (abs(delta), 2 * abs(delta)) or delta == 0
    if op == "swap":
        assert sorted(out.split()) == sorted(TEXT.split())


def test_options_validated():
    with pytest.raises(ValueError):
        EdaOptions(alpha=0)
    with pytest.raises(ValueError):
        EdaOptions(operations=("synonym", "paraphrase"))


def test_eda_cli_balances_rotates_operations_and_is_reproducible(imbalanced_jsonl, tmp_path):
    outs = []
    for name in ("a.jsonl", "b.jsonl"):
        r = CliRunner().invoke(aug, ["eda", str(imbalanced_jsonl), "-o", str(tmp_path / name), "-q", "--variants", "2",
                                     "--min-length-ratio", "0.3"])
        assert r.exit_code == 0, r.output
        outs.append((tmp_path / name).read_text())
    assert outs[0] == outs[1]
    rows = read_jsonl(tmp_path / "a.jsonl")
    assert {lab: sum(x["label"] == lab for x in rows) for lab in "abc"} == {"a": 8, "b": 8, "c": 8}
    new = [x for x in rows if x["augmenter"] == "eda"]
    assert {x["operation"] for x in new} <= {"synonym", "insert", "swap", "delete"} and len({x["operation"] for x in new}) >= 3
    assert all(x["pivot"] is None and x["id"] == f"{x['source_id']}/eda-{x['operation']}-{x['variant']}" for x in new)
    summary = json.loads((tmp_path / "a.summary.json").read_text())
    assert summary["augmenter"] == "eda" and summary["classes"]["c"]["kept"] == 6


def test_imbalance_cli(tmp_path):
    inp = tmp_path / "bal.jsonl"
    inp.write_text("".join(json.dumps({"id": f"{c}{i}", "text": f"text {c} {i}", "label": c}) + "\n" for c in "abcd" for i in range(20)))
    r = CliRunner().invoke(aug, ["imbalance", str(inp), "-o", str(tmp_path / "step.jsonl"), "--kind", "step", "--ratio", "0.1",
                                 "--minority", "a,b"])
    assert r.exit_code == 0, r.output
    rows = read_jsonl(tmp_path / "step.jsonl")
    assert {c: sum(x["label"] == c for x in rows) for c in "abcd"} == {"a": 2, "b": 2, "c": 20, "d": 20}
    r = CliRunner().invoke(aug, ["imbalance", str(inp), "-o", str(tmp_path / "step.jsonl"), "--kind", "step", "--ratio", "0.1"])
    assert r.exit_code == 2 and "use --overwrite" in r.output
    r = CliRunner().invoke(aug, ["imbalance", str(inp), "-o", str(tmp_path / "lt.jsonl"), "--kind", "longtail", "--ratio", "0.05"])
    assert r.exit_code == 0, r.output
    sizes = sorted(sum(x["label"] == c for x in read_jsonl(tmp_path / "lt.jsonl")) for c in "abcd")
    assert sizes == [1, 3, 7, 20]  # 20 * 0.05 ** (i/3)


@pytest.mark.slow
def test_aug_report_writes_json_and_png(tmp_path):
    from click.testing import CliRunner
    from conftest import separable_rows, write_jsonl

    from prefit.cli.augment import main as aug

    orig = separable_rows(0, 1, {"absorption": 12, "metabolism": 8, "excretion": 6})
    augmented = [dict(r, augmenter="original") for r in orig]
    for r in orig:  # one near-copy and one unrelated text per original
        augmented.append({"id": r["id"] + "/copy", "source_id": r["id"], "augmenter": "eda", "text": r["text"] + " ", "label": r["label"]})
        augmented.append({"id": r["id"] + "/off", "source_id": r["id"], "augmenter": "eda", "label": r["label"],
                          "text": "Quarterly football scores and the weather in Paris."})
    o, a = write_jsonl(tmp_path / "orig.jsonl", orig), write_jsonl(tmp_path / "aug.jsonl", augmented)
    r = CliRunner().invoke(aug, ["report", str(o), str(a), "-o", str(tmp_path / "rep"), "-q"])
    assert r.exit_code == 0, r.output
    assert r.output == ""  # -q: nothing but errors
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert set(rep["classes"]) == {"absorption", "metabolism", "excretion"}
    c = rep["classes"]["absorption"]
    assert (c["originals"], c["augmented"], c["augmented_sampled"], c["with_source"]) == (12, 24, 24, 24)
    for key in ("augmented_to_heldout", "originals_to_heldout", "closeness_ratio", "label_preserved", "originals_cv_preserved",
                "near_copies", "similarity_to_source"):
        assert isinstance(c[key], float), key
    assert c["near_copies"] == pytest.approx(0.5)  # the copies, not the unrelated texts
    assert rep["overall"]["near_copies"] == pytest.approx(0.5) and 0 <= rep["overall"]["label_preserved"] <= 1
    assert c["closeness_ratio"] < 1  # half of the augmented texts are off-topic
    assert (tmp_path / "rep" / "projection.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
