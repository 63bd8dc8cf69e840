"""The peers as prefit methods, and hyper-parameter selection that never reads the evaluation file."""

import json

import pytest
from click.testing import CliRunner
from conftest import read_jsonl, separable_rows, write_jsonl

from prefit.cli.train import main as train

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("method", ["tfidf-lr", "probe"])
def test_peer_writes_a_complete_run_directory(method, separable, tmp_path):
    out = tmp_path / method
    r = CliRunner().invoke(train, [method, "--train", str(separable["train"]), "--eval", str(separable["eval"]), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert r.output == ""  # -q: nothing but errors
    m = json.loads((out / "metrics.json").read_text())
    assert m["method"] == method and m["macro_f1"] > 0.5  # keyword-separable classes; chance is 1/3
    assert sum(map(sum, m["confusion_matrix"]["matrix"])) == 45 and set(m["per_class"]) == {"absorption", "metabolism", "excretion"}
    cfg = json.loads((out / "run.json").read_text())
    assert cfg["run"]["method"] == method and cfg["settings"]["C"] == 1.0 and cfg["versions"]["scikit-learn"]
    if method == "probe":
        assert cfg["settings"]["embedding"]["pooling"] == "mean" and cfg["settings"]["embedding"]["normalize"] is True
    assert json.loads((out / "model" / "label_map.json").read_text())["labels"] == ["absorption", "excretion", "metabolism"]
    assert (out / "model" / "peer.safetensors").stat().st_size > 0 and not list((out / "model").glob("*.joblib"))
    assert "eval: micro-F1" in (out / "train.log").read_text()


@pytest.mark.parametrize("method", ["tfidf-lr", "probe"])
def test_saved_peer_predicts_what_scikit_learn_predicted(method, separable, tmp_path):
    """The pickle-free peer (peer.safetensors + peer.json) gives the probabilities the fitted
    scikit-learn objects gave at evaluation time (metrics.json eval_proba, rounded to 5 places)."""
    import numpy as np

    from prefit.model.classifier import Classifier

    out = tmp_path / method
    assert CliRunner().invoke(train, [method, "--train", str(separable["train"]), "--eval", str(separable["eval"]), "-o", str(out), "-q"]).exit_code == 0
    texts = [r["text"] for r in read_jsonl(separable["eval"])]
    got = Classifier.load(out).probabilities(texts)
    want = np.asarray(json.loads((out / "metrics.json").read_text())["eval_proba"])
    assert got.shape == want.shape == (len(texts), 3)
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_a_pickle_in_a_model_folder_is_refused_not_loaded(separable, tmp_path):
    """#37 item 4: a crafted sklearn.joblib whose unpickling would run code is never opened."""
    import pickle

    from prefit.errors import InputError
    from prefit.model.classifier import Classifier

    out = tmp_path / "run"
    assert CliRunner().invoke(train, ["tfidf-lr", "--train", str(separable["train"]), "--eval", str(separable["eval"]), "-o", str(out), "-q"]).exit_code == 0
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (out / "model" / "sklearn.joblib").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(InputError, match="sklearn.joblib is a pickle"):
        Classifier.load(out)
    assert not marker.exists()


def test_carve_validation_is_stratified_and_drops_augmented_offspring(tmp_path):
    from prefit.jsonl import Fields
    from prefit.stages.train.select import carve_validation

    rows = separable_rows(0, 1, {"absorption": 40, "metabolism": 20, "excretion": 10})
    train_p = write_jsonl(tmp_path / "train.jsonl", rows)
    aug = [dict(r, augmenter="original") for r in rows] + [
        {"id": f"{r['id']}/eda-0", "source_id": r["id"], "text": r["text"] + " again", "label": r["label"]} for r in rows]
    aug_p = write_jsonl(tmp_path / "aug.jsonl", aug)
    split = carve_validation(str(train_p), str(aug_p), tmp_path / "split", Fields(), fraction=0.2, seed=0)
    val, tr = read_jsonl(tmp_path / "split" / "val.jsonl"), read_jsonl(tmp_path / "split" / "train.jsonl")
    assert (split.n_val, split.n_train) == (14, 56)
    assert sorted(r["label"] for r in val).count("absorption") == 8 and [r["label"] for r in val].count("excretion") == 2
    val_ids = {r["id"] for r in val}
    assert not val_ids & {r["id"] for r in tr}
    kept = read_jsonl(tmp_path / "split" / "augmented.jsonl")
    assert len(kept) == 2 * 56 and not any(r.get("source_id", r["id"]) in val_ids for r in kept)
    again = carve_validation(str(train_p), None, tmp_path / "again", Fields(), fraction=0.2, seed=0)
    assert read_jsonl(tmp_path / "again" / "val.jsonl") == val and again.augmented is None


def test_grouped_validation_keeps_each_group_on_one_side(tmp_path):
    from prefit.jsonl import Fields
    from prefit.stages.train.select import carve_validation

    rows = [dict(r, drug=f"drug-{i % 7}") for i, r in enumerate(separable_rows(0, 2, {"absorption": 30, "metabolism": 20, "excretion": 20}))]
    train_p = write_jsonl(tmp_path / "train.jsonl", rows)
    split = carve_validation(str(train_p), None, tmp_path / "split", Fields(), fraction=0.2, seed=3, group_field="drug")
    val_groups = {r["drug"] for r in read_jsonl(tmp_path / "split" / "val.jsonl")}
    train_groups = {r["drug"] for r in read_jsonl(tmp_path / "split" / "train.jsonl")}
    assert val_groups and train_groups and not val_groups & train_groups and split.groups == len(val_groups)


def test_selection_never_reads_the_evaluation_file(separable, tiny_bert, tmp_path, monkeypatch):
    import prefit.jsonl
    import prefit.stages.train.compare as compare_mod

    opened, phase = [], {"now": "setup"}
    real_iter, real_select = prefit.jsonl.iter_objects, compare_mod.select

    def recording_iter(path):
        opened.append((phase["now"], str(path)))
        return real_iter(path)

    def recording_select(*a, **kw):
        phase["now"] = "selection"
        try:
            return real_select(*a, **kw)
        finally:
            phase["now"] = "final"

    monkeypatch.setattr(prefit.jsonl, "iter_objects", recording_iter)
    monkeypatch.setattr(compare_mod, "select", recording_select)
    out = tmp_path / "cmp"
    r = CliRunner().invoke(train, ["compare", "--model", str(tiny_bert), "--train", str(separable["train"]), "--augmented",
                                   str(separable["augmented"]), "--eval", str(separable["eval"]), "-o", str(out), "--methods",
                                   "tfidf-lr,two-stage", "--seeds", "1", "--select", "lr=1e-4,1e-3", "--select", "c=0.01,10",
                                   "--epochs", "1", "--max-length", "32", "-q"])
    assert r.exit_code == 0, r.output
    assert r.output == ""
    ev = str(separable["eval"])
    assert [p for ph, p in opened if ph == "selection"], "selection read nothing"
    assert ev not in [p for ph, p in opened if ph == "selection"]
    assert ev in [p for ph, p in opened if ph == "final"]
    res = json.loads((out / "results.json").read_text())
    sel = res["selection"]
    assert [c["params"] for c in sel["tfidf-lr"]["candidates"]] == [{"c": 0.01}, {"c": 10.0}]
    assert [c["params"] for c in sel["two-stage"]["candidates"]] == [{"lr": 1e-4}, {"lr": 1e-3}]
    for method, s in sel.items():
        best = max(c["macro_f1"] for c in s["candidates"])
        assert s["candidates"][[c["macro_f1"] for c in s["candidates"]].index(best)]["params"] == s["chosen"]
        cfg = json.loads((out / method / "seed-1" / "run.json").read_text())["run"]
        assert cfg["train"] == str(separable["train"]) and cfg["eval"] == ev  # final runs: the full training file
        key = "peer_c" if method == "tfidf-lr" else "stage2_lr"
        assert cfg["recipe"][key] == next(iter(s["chosen"].values()))
    md = (out / "results.md").read_text()
    assert "chosen on validation" in md and "| tfidf-lr |" in md


def test_select_epochs_ranks_candidates_on_a_shorter_proxy_and_trains_the_seeds_in_full(separable, tiny_bert, tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", "--model", str(tiny_bert), "--train", str(separable["train"]), "--eval", str(separable["eval"]), "-o", str(out),
            "--methods", "vanilla,tfidf-lr", "--seeds", "1", "--select", "lr=1e-4,1e-3", "--select", "c=1", "--epochs", "2",
            "--max-length", "32", "-q"]
    r = CliRunner().invoke(train, [*args, "--select-epochs", "1"])
    assert r.exit_code == 0, r.output
    sel = json.loads((out / "results.json").read_text())["selection"]
    assert [c["params"] for c in sel["vanilla"]["candidates"]] == [{"lr": 1e-4}, {"lr": 1e-3}]
    assert all(c["proxy_epochs"] == 1 for c in sel["vanilla"]["candidates"])
    assert "proxy_epochs" not in sel["tfidf-lr"]["candidates"][0]  # the peers need no proxy
    for lr in ("0.0001", "0.001"):
        stages = json.loads((out / "selection" / "vanilla" / f"lr-{lr}__proxy-epochs-1" / "run.json").read_text())["stages"]
        assert stages[-1]["epochs"] == 1 and stages[-1]["lr"] == float(lr)
    assert not (out / "selection" / "vanilla" / "lr-0.0001").exists()
    final = json.loads((out / "vanilla" / "seed-1" / "run.json").read_text())
    assert final["stages"][-1]["epochs"] == 2 and final["stages"][-1]["lr"] == sel["vanilla"]["chosen"]["lr"]
    assert "(1-epoch proxy)" in (out / "results.md").read_text()

    r = CliRunner().invoke(train, [*args, "--select", "epochs=1,2", "--select-epochs", "1"])
    assert r.exit_code != 0 and "--select-epochs" in r.output


def test_export_refuses_a_peer_run(separable, tmp_path):
    out = tmp_path / "tfidf"
    assert CliRunner().invoke(train, ["tfidf-lr", "--train", str(separable["train"]), "--eval", str(separable["eval"]), "-o", str(out),
                                      "-q"]).exit_code == 0
    r = CliRunner().invoke(train, ["export", str(out), "-o", str(tmp_path / "exp")])
    assert r.exit_code == 2 and "a tfidf-lr run is a scikit-learn model" in r.output and not (tmp_path / "exp").exists()


def test_compare_grouped_cross_validation(tmp_path):
    """`train compare --folds 3 --group-field drug`: every group tested once, paired differences per fold."""
    rows = [dict(r, drug=f"d{i % 6}") for i, r in enumerate(separable_rows(0, 5, {"absorption": 30, "metabolism": 18, "excretion": 12}))]
    data = write_jsonl(tmp_path / "all.jsonl", rows)
    out = tmp_path / "cv"
    r = CliRunner().invoke(train, ["compare", "--methods", "tfidf-lr,probe", "--seeds", "7", "--train", str(data), "--folds", "3",
                                   "--group-field", "drug", "-o", str(out)])
    assert r.exit_code == 0, r.output
    cv = json.loads((out / "cv.json").read_text())
    tested = [json.loads(x)["drug"] for k in range(3) for x in (out / f"fold-{k}" / "test.jsonl").read_text().splitlines()]
    assert sorted(tested) == sorted(row["drug"] for row in rows)  # every record (and group) tested exactly once
    for k in range(3):
        train_groups = {json.loads(x)["drug"] for x in (out / f"fold-{k}" / "train.jsonl").read_text().splitlines()}
        test_groups = {json.loads(x)["drug"] for x in (out / f"fold-{k}" / "test.jsonl").read_text().splitlines()}
        assert not train_groups & test_groups
    assert len(cv["per_fold"]["tfidf-lr"]) == 3 and set(cv["paired"]["tfidf-lr"]) == {"probe"}
    p = cv["paired"]["tfidf-lr"]["probe"]["micro_f1"]
    diffs = [a["micro_f1"] - b["micro_f1"] for a, b in zip(cv["per_fold"]["tfidf-lr"], cv["per_fold"]["probe"])]
    assert p["diffs"] == diffs and p["wins"] == sum(d > 0 for d in diffs)
    assert "| tfidf-lr |" in (out / "cv.md").read_text()
    r = CliRunner().invoke(train, ["compare", "--methods", "tfidf-lr", "--train", str(data), "--folds", "3", "-o", str(out / "x")])
    assert r.exit_code == 2 and "--folds needs --group-field" in r.output
