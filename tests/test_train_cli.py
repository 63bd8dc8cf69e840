"""End to end through the `train` CLI."""

import json
import re

import pytest
import torch
from click.testing import CliRunner
from conftest import write_jsonl

from prefit.cli.train import main as train

pytestmark = pytest.mark.slow

FAST = ["--max-length", "32", "--batch-size", "8", "-q"]


def test_two_stage_end_to_end_with_packaged_encoder(separable, tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(train, ["two-stage", "--train", str(separable["train"]), "--augmented", str(separable["augmented"]),
                                   "--eval", str(separable["eval"]), "-o", str(out), "--stage1-lr", "1e-3", "--stage1-epochs", "2",
                                   "--stage2-lr", "1e-4", "--stage2-epochs", "3", *FAST])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["micro_f1"] >= 0.6 and m["macro_f1"] >= 0.55  # chance is 1/3 on the balanced 3-class eval set
    assert set(m["per_class"]) == {"absorption", "metabolism", "excretion"}
    assert m["majority_class"] == "absorption" and m["minority_classes"] == ["excretion", "metabolism"]
    assert sum(map(sum, m["confusion_matrix"]["matrix"])) == 45
    assert [h["stage"] for h in m["history"]] == ["pre-finetune", "finetune"]
    assert m["history"][0]["trainable_parameters"] < m["history"][1]["trainable_parameters"]
    cfg = json.loads((out / "run.json").read_text())
    assert cfg["run"]["recipe"]["stage1_lr"] == 1e-3 and cfg["versions"]["torch"] and cfg["resolved_model"].endswith("model")
    assert cfg["stages"][0]["trainable"] == "top:1" and cfg["stages"][1]["trainable"] == "all"
    # The default blend (recipes.DEFAULT_TFIDF_WEIGHT): the weight used is recorded, the peer saved with the model.
    assert cfg["run"]["recipe"]["tfidf_weight"] == 0.75 == m["tfidf_weight"]
    assert (out / "model" / "tfidf").is_dir() and m["micro_f1"] == m["blend"]["0.75"]["micro_f1"]
    assert (out / "train.log").read_text().count("epoch") >= 5
    assert json.loads((out / "model" / "label_map.json").read_text())["labels"] == ["absorption", "excretion", "metabolism"]
    from transformers import AutoModelForSequenceClassification

    reloaded = AutoModelForSequenceClassification.from_pretrained(out / "model", variant="prefit")  # mean pooling: hf_layout.py
    assert reloaded.config.id2label == {0: "absorption", 1: "excretion", 2: "metabolism"}
    r = CliRunner().invoke(train, ["vanilla", "--train", str(separable["train"]), "--eval", str(separable["eval"]), "-o", str(out), *FAST])
    assert r.exit_code == 2 and "use --overwrite" in r.output


def _weights(run_dir):
    from safetensors.torch import load_file

    return load_file(str(run_dir / "model" / "model.safetensors"))


def test_same_seed_same_model_on_cpu(separable, tiny_bert, tmp_path):
    runs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        r = CliRunner().invoke(train, ["oversample", "--model", str(tiny_bert), "--train", str(separable["train"]), "--eval",
                                       str(separable["eval"]), "-o", str(tmp_path / name), "--seed", str(seed), "--stage2-lr", "1e-3",
                                       "--stage2-epochs", "1", *FAST])
        assert r.exit_code == 0, r.output
        runs.append(_weights(tmp_path / name))
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_compare_writes_table_json_and_plot(separable, tiny_bert, tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", "--model", str(tiny_bert), "--train", str(separable["train"]), "--augmented", str(separable["augmented"]),
            "--eval", str(separable["eval"]), "-o", str(out), "--methods", "vanilla,lpft,two-stage", "--seeds", "1,2",
            "--stage2-epochs", "1", "--loss", "ldam", "--class-weights", "drw", "--sam-rho", "0.05", *FAST]
    r = CliRunner().invoke(train, args)
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert set(res["summary"]) == {"vanilla", "lpft", "two-stage"}
    for method, runs in res["runs"].items():
        vals = [x["macro_f1"] for x in runs]
        assert res["summary"][method]["macro_f1"]["mean"] == pytest.approx(sum(vals) / 2)
    md = (out / "results.md").read_text()
    assert "non-majority micro-F1" in md and "| two-stage |" in md and "±" in md
    max_length = FAST[FAST.index("--max-length") + 1]
    assert f"Reading: transformers read every {max_length}-token window of a text (mean logits, at most 16)." in md
    assert res["reading"] in md
    assert "TF-IDF blended in (--tfidf-weight): two-stage at 0.75" in md  # two-stage's default; the baselines are unblended
    assert (out / "per_class_f1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list(out.glob("*/seed-*/metrics.json"))) == 6
    # a second call reuses the finished runs
    mtime = (out / "vanilla" / "seed-1" / "metrics.json").stat().st_mtime_ns
    assert CliRunner().invoke(train, args).exit_code == 0
    assert (out / "vanilla" / "seed-1" / "metrics.json").stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    "case,expected",
    [("unseen-eval-label", ":2: field 'label': label 'distribution' does not occur in the training data"),
     ("empty-train", "train.jsonl: no records (the file is empty)"),
     ("missing-field", "train.jsonl:2: field 'text': missing")],
    ids=["unseen-eval-label", "empty-train", "missing-field"],
)
def test_bad_input_exits_2(case, expected, separable, tiny_bert, tmp_path):
    train_p, eval_p = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    good = [{"id": "1", "text": "absorbed fast", "label": "absorption"}, {"id": "2", "text": "urine", "label": "excretion"}]
    write_jsonl(train_p, good)
    write_jsonl(eval_p, good)
    if case == "unseen-eval-label":
        write_jsonl(eval_p, [good[0], {"id": "3", "text": "tissue", "label": "distribution"}])
    elif case == "empty-train":
        train_p.write_text("")
    else:
        write_jsonl(train_p, [good[0], {"id": "2", "label": "excretion"}])
    r = CliRunner().invoke(train, ["vanilla", "--model", str(tiny_bert), "--train", str(train_p), "--eval", str(eval_p),
                                   "-o", str(tmp_path / "run"), *FAST])
    assert r.exit_code == 2, r.output
    line = r.output.strip().splitlines()[-1]
    assert line.startswith("Error: ") and expected in line


def test_two_stage_without_augmented_is_a_usage_error(separable, tmp_path):
    r = CliRunner().invoke(train, ["compare", "--train", str(separable["train"]), "--eval", str(separable["eval"]), "-o", str(tmp_path),
                                   "--methods", "vanilla,two-stage"])
    assert r.exit_code == 2 and "needs --augmented" in r.output


def test_recipe_paper_and_explicit_options(separable, tiny_bert, tmp_path):
    base = ["vanilla", "--model", str(tiny_bert), "--train", str(separable["train"]), "--eval", str(separable["eval"]), "--epochs", "0", *FAST]
    for name, extra, lr, pooling in (("default", [], 1e-4, "cls"), ("paper", ["--recipe", "paper"], 1e-5, "cls"),
                                     ("paper-mean", ["--recipe", "paper", "--pooling", "mean", "--lr", "3e-5"], 3e-5, "mean")):
        r = CliRunner().invoke(train, [*base, *extra, "-o", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
        cfg = json.loads((tmp_path / name / "run.json").read_text())
        assert cfg["run"]["recipe"]["stage2_lr"] == lr and cfg["pooling"] == pooling


def test_two_stage_defaults_to_class_balanced_weights_and_paper_to_none(separable, tiny_bert, tmp_path):
    base = ["two-stage", "--model", str(tiny_bert), "--train", str(separable["train"]), "--augmented", str(separable["augmented"]),
            "--eval", str(separable["eval"]), "--epochs", "0", "--stage1-epochs", "0", *FAST]
    for name, extra, weights in (("default", [], "cb"), ("paper", ["--recipe", "paper"], "none"),
                                 ("explicit", ["--class-weights", "none"], "none"), ("paper-cb", ["--recipe", "paper", "--class-weights", "cb"], "cb")):
        r = CliRunner().invoke(train, [*base, *extra, "-o", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
        stages = json.loads((tmp_path / name / "run.json").read_text())["stages"]
        assert [(s["name"], s["loss"]["weights"]) for s in stages] == [("pre-finetune", "none"), ("finetune", weights)], name


def test_config_reruns_a_run_and_refuses_other_options(tiny_bert, separable, tmp_path):
    first = tmp_path / "first"
    r = CliRunner().invoke(train, ["vanilla", "--model", str(tiny_bert), "--train", str(separable["train"]), "--eval",
                                   str(separable["eval"]), "-o", str(first), "--epochs", "1", "--lr", "3e-4", "--max-length", "32", "-q"])
    assert r.exit_code == 0, r.output
    again = tmp_path / "again"
    r = CliRunner().invoke(train, ["vanilla", "--config", str(first / "run.json"), "-o", str(again), "-q"])
    assert r.exit_code == 0, r.output
    a, b = (json.loads((d / "run.json").read_text())["run"] for d in (first, again))
    assert {k: v for k, v in a.items() if k != "output"} == {k: v for k, v in b.items() if k != "output"}
    assert b["recipe"]["stage2_lr"] == 3e-4 and b["recipe"]["stage2_epochs"] == 1
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (first, again))
    assert m1["per_class"] == m2["per_class"]  # same settings, same seed, CPU: the same model
    r = CliRunner().invoke(train, ["vanilla", "--config", str(first / "run.json"), "-o", str(tmp_path / "x"), "--lr", "1e-3"])
    assert r.exit_code == 2 and "--lr cannot be combined with it" in r.output
    r = CliRunner().invoke(train, ["two-stage", "--config", str(first / "run.json"), "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and "is a vanilla run; use 'train vanilla --config" in r.output


@pytest.mark.parametrize("method, shown, hidden", [
    ("two-stage", ["--stage1-lr", "--augmented", "--lr"], ["--lp-lr", "--peer-c"]),
    ("lpft", ["--lp-lr", "--lr"], ["--stage1-lr", "--peer-c", "--augmented"]),
    ("vanilla", ["--lr", "--loss"], ["--stage1-lr", "--lp-lr", "--peer-c", "--augmented"]),
    ("tfidf-lr", ["--peer-c"], ["--lr", "--model", "--loss", "--batch-size"]),
    ("probe", ["--peer-c", "--model"], ["--lr", "--loss"]),
], ids=["two-stage", "lpft", "vanilla", "tfidf-lr", "probe"])
def test_each_method_shows_only_its_options(method, shown, hidden):
    out = CliRunner().invoke(train, [method, "--help"]).output
    for opt in shown:
        assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", out), opt
    for opt in hidden:
        assert not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", out), opt


def test_version_on_every_script():
    from importlib.metadata import version

    from prefit.cli.augment import main as aug
    from prefit.cli.score import main as score

    for cmd, name in ((aug, "aug"), (train, "train"), (score, "score")):
        r = CliRunner().invoke(cmd, ["--version"], prog_name=name)
        assert r.exit_code == 0 and r.output == f"{name} (prefit) {version('prefit')}\n"


@pytest.mark.parametrize("where, key, value, message", [
    ("run", "max_length", "16", "field 'run.max_length': expected an integer, found \"16\""),
    ("run", "max_length", 2, "field 'run.max_length': 2 is not in the range x>=8"),
    ("recipe", "batch_size", 0, "field 'run.recipe.batch_size': 0 is not in the range x>=1"),
    ("recipe", "stage2_epochs", -1, "field 'run.recipe.stage2_epochs': -1 is not in the range x>=0"),
    ("run", "seed", "abc", "field 'run.seed': expected an integer, found \"abc\""),
    ("run", "device", "tpu", "field 'run.device': 'tpu' is not one of 'auto', 'cpu', 'cuda'"),
    ("run", "read", "all", "field 'run.read': 'all' is not one of 'first', 'windows'"),
    ("run", "max_windows", 0, "field 'run.max_windows': 0 is not in the range x>=1"),
])
def test_a_tampered_config_is_refused_with_the_flags_rules_before_training(tmp_path, where, key, value, message):
    """#37 item 21: values a flag refuses were accepted from --config (max_length "16", batch size
    0, epochs -1, seed "abc", device "tpu"; read/max_windows checked only after training)."""
    from dataclasses import asdict

    from prefit.stages.train.run import RunConfig

    raw = asdict(RunConfig(method="vanilla", train=str(tmp_path / "t.jsonl"), eval=None, output=str(tmp_path / "r")))
    (raw if where == "run" else raw["recipe"])[key] = value
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"run": raw}))
    r = CliRunner().invoke(train, ["vanilla", "--config", str(cfg), "-o", str(tmp_path / "out"), "-q"])
    assert r.exit_code == 2 and r.output.startswith(f"Error: {cfg}: {message}"), r.output
    assert len(r.output.splitlines()) == 1 and not (tmp_path / "out").exists()
