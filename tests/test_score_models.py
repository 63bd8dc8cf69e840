"""`score` on labels and on texts with every kind of prefit model, and the faults of issue #13
around models and scoring: broken runs refused by export, damaged models and outputs reported in
one line, resume by content and settings, work kept as documents finish."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SPL_DIR, read_jsonl, write_jsonl

from prefit.cli.score import main as score
from prefit.cli.train import main as train

SPL = SPL_DIR
LIPITOR = SPL / "c6e131fe-e7df-4876-83f7-9156fc4e8228.xml"
VIAGRA = SPL / "0b0be196-0c62-461c-94f4-9a35339b4501.xml"
OTC = SPL / "otc-cough-no-pk.xml"


def run(cmd, args):
    return CliRunner().invoke(cmd, [str(a) for a in args])


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory) -> Path:
    exp = tmp_path_factory.mktemp("exp") / "export"
    r = run(train, ["export", trained_run, "-o", exp, "-q"])
    assert r.exit_code == 0 and r.output == "", r.output
    return exp


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# --- score: identity by content, settings, damaged outputs, work kept ------------------------------

def test_same_label_by_another_path_is_not_scored_twice(tmp_path, monkeypatch):
    out = tmp_path / "o.jsonl"
    d = tmp_path / "labels"
    d.mkdir()
    shutil.copy(LIPITOR, d / "lipitor.xml")
    monkeypatch.chdir(tmp_path)
    assert run(score, ["labels/lipitor.xml", "--extract-only", "-o", out, "-q"]).exit_code == 0
    rows = read_jsonl(out)
    r = run(score, [(d / "lipitor.xml").resolve(), LIPITOR, "--extract-only", "-o", out])
    assert r.exit_code == 0, r.output
    assert "0 new document(s), 2 already there" in r.output
    assert read_jsonl(out) == rows


def test_output_written_with_other_settings_is_refused(tmp_path, exported):
    out = tmp_path / "o.jsonl"
    assert run(score, [LIPITOR, "--extract-only", "-o", out, "-q"]).exit_code == 0
    before = out.read_text()
    r = run(score, [VIAGRA, "--model", exported, "-o", out, "-q"])
    assert r.exit_code == 2
    assert r.output.startswith(f"Error: {out}: the output was written with other settings (model: None -> {{")
    assert "use --overwrite to start over or choose another -o" in r.output and len(r.output.splitlines()) == 1
    assert out.read_text() == before
    r = run(score, [VIAGRA, "--model", exported, "-o", out, "-q", "--overwrite"])
    assert r.exit_code == 0 and all(x["predicted_label"] for x in read_jsonl(out))


@pytest.mark.parametrize("damage", ["jsonl", "state"])
def test_damaged_existing_output_is_one_line(tmp_path, damage):
    out = tmp_path / "o.jsonl"
    assert run(score, [LIPITOR, "--extract-only", "-o", out, "-q"]).exit_code == 0
    if damage == "jsonl":
        out.write_text(out.read_text() + '{"set_id": "cut off\n')
        n = len(out.read_text().splitlines())
        want = f"Error: {out}:{n}: the existing output is damaged ("
    else:
        Path(str(out) + ".state.json").write_text("{")
        want = f"Error: {out}.state.json: damaged state file ("
    r = run(score, [VIAGRA, "--extract-only", "-o", out])
    assert r.exit_code == 2 and r.output.startswith(want) and len(r.output.splitlines()) == 1, r.output


def test_finished_documents_survive_a_crash_and_are_not_redone(tmp_path, monkeypatch):
    import prefit.spl.parse as spl

    clean = tmp_path / "clean.jsonl"
    inputs = [SPL / "570974d4-0d5b-4df2-b307-37380511835d.xml", LIPITOR, VIAGRA]
    assert run(score, [*inputs, "--extract-only", "-o", clean, "-q"]).exit_code == 0
    out = tmp_path / "o.jsonl"
    real, parsed = spl.parse, []

    def crashing(data, name=None):
        parsed.append(name)
        if len(parsed) == 3:
            raise MemoryError("simulated crash")
        return real(data, name=name)

    monkeypatch.setattr(spl, "parse", crashing)
    r = run(score, [*inputs, "--extract-only", "-o", out, "--chunk-size", "1", "-q"])
    assert isinstance(r.exception, MemoryError)
    parts = Path(str(out) + ".parts")
    assert len(list(parts.glob("chunk-*.json"))) == 2 and not out.exists()  # the two finished labels are on disk
    parsed.clear()
    monkeypatch.setattr(spl, "parse", lambda data, name=None: (parsed.append(name), real(data, name=name))[1])
    r = run(score, [*inputs, "--extract-only", "-o", out, "--chunk-size", "1"])
    assert r.exit_code == 0, r.output
    assert parsed == [str(VIAGRA)]  # only the unfinished label is parsed again
    assert read_jsonl(out) == read_jsonl(clean) and not parts.exists()


def test_empty_input_directory_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run(score, [tmp_path / "empty", "--extract-only", "-o", tmp_path / "o.jsonl"])
    assert r.exit_code == 1 and f"Error: {tmp_path / 'empty'}: directory holds no .xml or .zip file (skipped)" in r.output


# --- score texts -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = tmp_path_factory.mktemp("texts")
    rows = [{"doc": f"d{i}", "body": t} for i, t in enumerate(
        ["Peak plasma concentrations occur 2 hours after an oral dose.", "It is metabolized by CYP3A4 in the liver.",
         "About 60% of the dose is excreted in urine.", "Take with water."])]
    write_jsonl(d / "t.jsonl", rows)
    (d / "t.csv").write_text("doc,body\n" + "".join(f'{r["doc"]},"{r["body"]}"\n' for r in rows))
    pq.write_table(pa.Table.from_pylist(rows), d / "t.parquet")
    return {"rows": rows, **{k: d / f"t.{k}" for k in ("jsonl", "csv", "parquet")}}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("model", ["run", "export"])
def test_score_texts_with_a_run_or_an_export(texts, fmt, model, trained_run, exported, tmp_path):
    out = tmp_path / "scored.jsonl"
    r = run(score, [texts[fmt], "--model", trained_run if model == "run" else exported, "--text-field", "body", "-o", out, "-q"])
    assert r.exit_code == 0 and r.output == "", r.output
    rows = read_jsonl(out)
    labels = json.loads((trained_run / "model" / "label_map.json").read_text())["labels"]
    assert [{k: x[k] for k in ("doc", "body")} for x in rows] == texts["rows"]
    for x in rows:
        assert set(x["probabilities"]) == set(labels) and x["predicted_label"] == max(x["probabilities"], key=x["probabilities"].get)


def test_pytorch_run_and_onnx_export_agree(texts, trained_run, exported, tmp_path):
    from prefit.model.classifier import Classifier

    t = [r["body"] for r in texts["rows"]]
    p_run = Classifier.load(trained_run, "cpu").probabilities(t)
    from prefit.model.onnx import OnnxBackend

    p_exp = OnnxBackend(exported, "cpu", "fp32").probabilities(t)
    assert abs(p_run - p_exp).max() < 1e-4


def test_score_texts_with_a_peer_run_and_csv_output(texts, tmp_path):
    train_rows = [{"text": f"{w} absorbed quickly", "label": "Absorption"} for w in ("drug", "tablet", "dose")] + \
                 [{"text": f"{w} excreted in urine", "label": "Excretion"} for w in ("drug", "tablet", "dose")]
    write_jsonl(tmp_path / "tr.jsonl", train_rows)
    r = run(train, ["tfidf-lr", "--train", tmp_path / "tr.jsonl", "--eval", tmp_path / "tr.jsonl", "-o", tmp_path / "peer", "-q"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "scored.csv"
    r = run(score, [texts["jsonl"], "--model", tmp_path / "peer", "--text-field", "body", "-o", out, "-q"])
    assert r.exit_code == 0, r.output
    import csv

    rows = list(csv.DictReader(open(out)))
    assert list(rows[0]) == ["doc", "body", "predicted_label", "prob_Absorption", "prob_Excretion"]  # #37 item 30: a column per label
    assert rows[2]["predicted_label"] == "Excretion" and float(rows[2]["prob_Excretion"]) > float(rows[2]["prob_Absorption"])
    assert abs(float(rows[2]["prob_Excretion"]) + float(rows[2]["prob_Absorption"]) - 1) < 1e-5
    from prefit.stages.score.job import read_rows

    back = list(read_rows(out))  # what a resumed run reads back: the probabilities as one mapping again
    assert back[2]["probabilities"] == {"Absorption": float(rows[2]["prob_Absorption"]), "Excretion": float(rows[2]["prob_Excretion"])}


def test_texts_and_labels_cannot_be_mixed(texts, exported, tmp_path):
    r = run(score, [texts["jsonl"], LIPITOR, "--model", exported, "-o", tmp_path / "o.jsonl"])
    assert r.exit_code == 2 and "not both" in r.output


def test_a_bad_text_record_is_located(exported, tmp_path):
    write_jsonl(tmp_path / "t.jsonl", [{"text": "fine"}, {"text": 3}])
    r = run(score, [tmp_path / "t.jsonl", "--model", exported, "-o", tmp_path / "o.jsonl"])
    assert r.exit_code == 2 and f"Error: {tmp_path / 't.jsonl'}:2: field 'text': expected a string, found int" in r.output


# --- broken models ------------------------------------------------------------------------------

def _break(d: Path, how: str) -> None:
    if how == "no tokenizer":
        for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
            (d / f).unlink(missing_ok=True)
    elif how == "labels disagree":
        lm = json.loads((d / "label_map.json").read_text())
        (d / "label_map.json").write_text(json.dumps(lm | {"labels": list(reversed(lm["labels"]))}))
    elif how == "no weights":
        (d / "model.safetensors").unlink()
    elif how == "no config":
        (d / "config.json").unlink()
    elif how == "invalid config":
        (d / "config.json").write_text("{not json")
    elif how == "corrupt weights":
        (d / "model.safetensors").write_bytes(b"\x00" * 64)


@pytest.mark.parametrize("how, message", [
    ("no tokenizer", "model directory has no tokenizer files"),
    ("labels disagree", "label_map.json lists 5 label(s)"),
    ("no weights", "model directory has no safetensors weights"),
    ("no config", "not a Hugging Face model directory (no config.json)"),
    ("invalid config", "invalid config.json"),
])
def test_export_refuses_a_broken_run(trained_run, tmp_path, how, message):
    bad = _copy(trained_run, tmp_path / "run")
    _break(bad / "model", how)
    r = run(train, ["export", bad, "-o", tmp_path / "exp"])
    assert r.exit_code == 2 and message in r.output and len(r.output.splitlines()) == 1, r.output
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize("how, message", [
    ("metadata", "invalid metadata.json"),
    ("onnx", "cannot load the ONNX model"),
    ("no tokenizer", "model directory has no tokenizer files"),
])
def test_score_refuses_a_damaged_export(exported, tmp_path, how, message):
    bad = _copy(exported, tmp_path / "exp")
    if how == "metadata":
        (bad / "metadata.json").write_text("{broken")
    elif how == "onnx":
        (bad / "model.onnx").write_bytes(b"not an onnx graph")
    else:
        _break(bad, how)
    r = run(score, [LIPITOR, "--model", bad, "--device", "cpu", "-o", tmp_path / "o.jsonl"])
    assert r.exit_code == 2 and message in r.output and len(r.output.splitlines()) == 1, r.output


@pytest.mark.parametrize("how, message", [("invalid config", "invalid config.json"), ("corrupt weights", "could not load the model")])
def test_train_with_a_damaged_model_is_one_line(tiny_bert, separable, tmp_path, how, message):
    bad = _copy(tiny_bert, tmp_path / "m")
    _break(bad, how)
    r = run(train, ["vanilla", "--model", bad, "--train", separable["train"], "--eval", separable["eval"], "-o", tmp_path / "run",
                    "--epochs", "1", "-q"])
    assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "run").exists()


def test_failed_overwrite_keeps_the_finished_run(tiny_bert, separable, tmp_path):
    out = tmp_path / "run"
    args = ["vanilla", "--model", tiny_bert, "--train", separable["train"], "--epochs", "1", "--max-length", "32", "-o", out, "-q"]
    assert run(train, [*args, "--eval", separable["eval"]]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    bad_eval = write_jsonl(tmp_path / "bad_eval.jsonl", [{"text": "x y z", "label": "a label never trained"}])
    r = run(train, [*args, "--eval", bad_eval, "--overwrite"])
    assert r.exit_code == 2
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # train.log included
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no half-made folder


def test_corrupt_translation_model_names_its_folder(models_dir, imbalanced_jsonl, tmp_path):
    from prefit.cli.augment import main as aug

    bad = tmp_path / "models"
    for pair in ("en-de", "de-en"):
        shutil.copytree(models_dir / pair, bad / pair)
    (bad / "en-de" / "model.bin").write_bytes(os.urandom(256))
    r = run(aug, ["backtranslate", imbalanced_jsonl, "-o", tmp_path / "o.jsonl", "--models-dir", bad, "--pivot", "de", "-q"])
    assert r.exit_code == 2, r.output
    assert r.output.startswith(f"Error: {bad / 'en-de'}: cannot load the CTranslate2 model (") and len(r.output.splitlines()) == 1


def test_score_batch_is_a_plain_callable_over_columns(trained_run, exported):
    import numpy as np

    from prefit.stages.score.batch import ScoreBatch

    texts = np.array(["Peak plasma concentrations occur 2 hours after dosing.", "Excreted in urine."])
    for model in (exported, trained_run):
        out = ScoreBatch(str(model), "cpu")({"text": texts, "doc": np.array(["a", "b"])})
        assert out["doc"] == ["a", "b"] and len(out["predicted_label"]) == 2
        assert all(abs(sum(p.values()) - 1) < 1e-3 and out["predicted_label"][i] == max(p, key=p.get)
                   for i, p in enumerate(out["probabilities"]))


def test_export_says_when_parity_falls_back_to_builtin_texts(trained_run, tmp_path):
    run_dir = _copy(trained_run, tmp_path / "run")
    cfg = json.loads((run_dir / "run.json").read_text())
    cfg["run"]["eval"] = str(tmp_path / "gone.jsonl")
    (run_dir / "run.json").write_text(json.dumps(cfg))
    r = run(train, ["export", run_dir, "-o", tmp_path / "exp"])
    assert r.exit_code == 0, r.output
    assert "parity check on 6 built-in sample texts: the run's evaluation file is not readable" in r.output
    assert json.loads((tmp_path / "exp" / "metadata.json").read_text())["parity_texts"] == "built-in samples"


def test_model_identity_covers_the_weights_content(trained_run, tmp_path):
    """#37 item 1: two models whose files have the same names and sizes but other weights (as two
    seeds give) have different identities, so `score` never continues one's output with the other."""
    import shutil

    from prefit.model.folder import model_identity

    other = tmp_path / "other"
    shutil.copytree(trained_run, other)
    weights = other / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # the last byte of the last tensor: same size, other weights
    weights.write_bytes(bytes(data))
    assert model_identity(trained_run)["kind"] == model_identity(other)["kind"] == "run"
    assert model_identity(trained_run)["digest"] != model_identity(other)["digest"]
    assert model_identity(trained_run) == model_identity(shutil.copytree(trained_run, tmp_path / "same"))


def test_model_identity_covers_sub_folders(trained_run, tmp_path):
    """A file in a sub-folder of the model (the TF-IDF peer in model/tfidf/, the sentence-transformers
    modules) changes predictions, so it changes the identity too."""
    import shutil

    from prefit.model.folder import model_identity

    other = shutil.copytree(trained_run, tmp_path / "other")
    extra = other / "model" / "tfidf" / "peer.json"
    extra.parent.mkdir(exist_ok=True)
    extra.write_text(extra.read_text() + " " if extra.exists() else "{}")
    assert model_identity(trained_run)["digest"] != model_identity(other)["digest"]


class Killed(BaseException):
    """Stands for the process being killed at one step of the commit protocol."""


@pytest.mark.parametrize("kill_at", ["before-output-rename", "before-chunks-removed"])
@pytest.mark.parametrize("first", [True, False], ids=["first-run", "adding-a-label"])
def test_a_kill_anywhere_in_the_commit_then_a_rerun_equals_an_uninterrupted_run(tmp_path, monkeypatch, kill_at, first):
    """#37 item 3: OUT and its state file were written one after the other, so a kill between them
    duplicated rows on the re-run (66 instead of 56) or refused it. Now the state names the digest
    of the OUT it describes and is written first (job.commit_output)."""
    import os

    from prefit.resume import ChunkStore

    whole = tmp_path / "whole.jsonl"
    if not first:
        assert run(score, [LIPITOR, "--extract-only", "-o", whole, "-q"]).exit_code == 0
    assert run(score, [LIPITOR, VIAGRA, "--extract-only", "-o", whole, "-q"]).exit_code == 0
    out = tmp_path / "o.jsonl"
    if not first:
        assert run(score, [LIPITOR, "--extract-only", "-o", out, "-q"]).exit_code == 0
    real_replace = os.replace

    def replace_or_die(src, dst):
        if Path(dst) == out:
            raise Killed
        return real_replace(src, dst)

    def cleanup_or_die(self):
        raise Killed

    if kill_at == "before-output-rename":
        monkeypatch.setattr(os, "replace", replace_or_die)
    else:
        monkeypatch.setattr(ChunkStore, "cleanup", cleanup_or_die)
    with pytest.raises(Killed):
        CliRunner().invoke(score, [str(LIPITOR), str(VIAGRA), "--extract-only", "-o", str(out), "-q"], catch_exceptions=False)
    monkeypatch.undo()
    r = run(score, [LIPITOR, VIAGRA, "--extract-only", "-o", out, "-q"])
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == whole.read_bytes()
    assert not Path(str(out) + ".parts").exists()
    r = run(score, [LIPITOR, VIAGRA, "--extract-only", "-o", out])  # and a third run adds nothing
    assert "0 new document(s)" in r.output and out.read_bytes() == whole.read_bytes()
