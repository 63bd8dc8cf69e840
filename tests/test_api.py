"""The Python API at the package root (prefit/api.py): the same answers as the command lines."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import read_jsonl, separable_rows

import prefit
from prefit.cli.score import main as score
from prefit.cli.train import main as train_cli


def test_import_prefit_is_light_and_exports_the_api():
    import subprocess
    import sys

    code = "import sys, prefit; assert 'torch' not in sys.modules and 'transformers' not in sys.modules; print(sorted(prefit.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "Classifier" in out and "train" in out and "score_labels" in out


@pytest.mark.parametrize("kind", ["run", "export"])
def test_classifier_predicts_the_labels_score_writes(kind, trained_run, tmp_path, request):
    texts = ["Peak plasma concentrations occur 2 hours after an oral dose.", "It is metabolized by CYP3A4 in the liver.",
             "About 60% of the dose is excreted in urine.", "Take with water."]
    model = trained_run
    if kind == "export":
        model = tmp_path / "export"
        prefit.export(trained_run, model)
    (tmp_path / "t.jsonl").write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    r = CliRunner().invoke(score, [str(tmp_path / "t.jsonl"), "--model", str(model), "-o", str(tmp_path / "o.jsonl"), "-q"])
    assert r.exit_code == 0, r.output
    clf = prefit.Classifier.load(model)
    got = clf.predict(texts)
    assert got == [row["predicted_label"] for row in read_jsonl(tmp_path / "o.jsonl")]
    assert all(lab in clf.labels for lab in got) and clf.predict_proba(texts).shape == (4, len(clf.labels))
    with pytest.raises(prefit.InputError, match="wrap it in a list"):
        clf.predict("one string")


@pytest.mark.slow
def test_train_in_memory_without_eval_then_predict(tiny_bert, tmp_path):
    """A DataFrame for train, a list of dicts for augmented, no eval: a final model, no scores."""
    import pandas as pd

    train = pd.DataFrame(separable_rows(0, 1, {"absorption": 12, "metabolism": 6, "excretion": 4}))
    augmented = separable_rows(12, 2)
    result = prefit.train("two-stage", train=train, augmented=augmented, output=tmp_path / "run", model=str(tiny_bert), max_length=32,
                          stage2_epochs=1, batch_size=8, progress=False)
    assert "micro_f1" not in result.metrics and result.metrics["method"] == "two-stage"
    clf = result.load()
    assert sorted(clf.labels) == ["absorption", "excretion", "metabolism"]
    assert len(clf.predict(["The drug is absorbed quickly."])) == 1
    with pytest.raises(prefit.InputError, match="unknown option"):
        prefit.train("vanilla", train=train, output=tmp_path / "x", learning_rate=1e-3)
    with pytest.raises(prefit.InputError, match=r"train\[0\]: expected a \(text, label\) pair"):
        prefit.train("vanilla", train=["just text"], output=tmp_path / "y")


def test_train_with_pairs_and_eval_scores_like_the_cli(separable, tmp_path):
    rows = read_jsonl(separable["train"])
    result = prefit.train("tfidf-lr", train=[(r["text"], r["label"]) for r in rows], eval=separable["eval"], output=tmp_path / "api")
    r = CliRunner().invoke(train_cli, ["tfidf-lr", "--train", str(separable["train"]), "--eval", str(separable["eval"]), "-o",
                                       str(tmp_path / "cli"), "-q"])
    assert r.exit_code == 0, r.output
    cli = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert result.metrics["micro_f1"] == cli["micro_f1"] and result.metrics["eval_proba"] == cli["eval_proba"]


def test_cli_trains_without_eval(separable, tmp_path):
    r = CliRunner().invoke(train_cli, ["probe", "--train", str(separable["train"]), "-o", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    assert "no --eval to score" in r.output and "micro_f1" not in json.loads((tmp_path / "run" / "metrics.json").read_text())


def test_export_refuses_to_replace_its_own_run(trained_run, tmp_path):
    """#37 item 6: `train export RUN -o RUN --overwrite` (or -o RUN/model) would replace the run."""
    for out in (trained_run, trained_run / "model"):
        with pytest.raises(prefit.InputError, match="would replace or hold the run"):
            prefit.export(trained_run, out, overwrite=True)
    assert (trained_run / "metrics.json").exists() and (trained_run / "model" / "model.safetensors").exists()


@pytest.mark.slow
def test_train_on_a_datasets_dataset_maps_class_labels_to_names(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = separable_rows(0, 1, {"absorption": 10, "metabolism": 6, "excretion": 4})
    names = ["absorption", "excretion", "metabolism"]
    ds = datasets.Dataset.from_dict({"text": [r["text"] for r in rows], "label": [names.index(r["label"]) for r in rows]},
                                    features=datasets.Features({"text": datasets.Value("string"),
                                                                "label": datasets.ClassLabel(names=names)}))
    result = prefit.train("tfidf-lr", train=ds, eval=ds, output=tmp_path / "run")
    assert set(result.metrics["per_class"]) == set(names) and result.load().labels == names


def test_errors_name_the_api_parameter_and_the_cli_its_flag(imbalanced_jsonl, tmp_path):
    """One message in the library: `overwrite=True` from Python, --overwrite on the command line."""
    from prefit.cli.augment import main as aug
    from prefit.errors import as_flags

    assert as_flags("use `overwrite=True`; `pooling=cls` or `group_field=FIELD`") == "use --overwrite; --pooling cls or --group-field FIELD"
    out = tmp_path / "aug.jsonl"
    prefit.augment(imbalanced_jsonl, out, method="eda", progress=False)
    with pytest.raises(prefit.InputError, match="use `overwrite=True` to replace it"):
        prefit.augment(imbalanced_jsonl, out, method="eda", progress=False)
    r = CliRunner().invoke(aug, ["eda", str(imbalanced_jsonl), "-o", str(out), "-q"])
    assert r.exit_code == 2 and r.output == f"Error: {out}: output already exists; use --overwrite to replace it\n"
