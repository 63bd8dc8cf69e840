"""WiSE-FT (train/wise.py): weight-space interpolation between the model before full finetuning and after."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from conftest import read_jsonl

from prefit.stages.train.recipes import RecipeOptions
from prefit.stages.train.run import RunConfig, run
from prefit.stages.train.wise import WISE_GRID, interpolate


def test_interpolate_is_linear_on_floats_and_keeps_integer_buffers():
    a = {"w": torch.zeros(3), "ids": torch.arange(3)}
    b = {"w": torch.tensor([2.0, 4.0, 8.0]), "ids": torch.arange(3) + 10}
    out = interpolate(a, b, 0.25)
    assert torch.equal(out["w"], torch.tensor([0.5, 1.0, 2.0])) and torch.equal(out["ids"], b["ids"])
    assert torch.equal(interpolate(a, b, 0.0)["w"], a["w"]) and torch.equal(interpolate(a, b, 1.0)["w"], b["w"])
    with pytest.raises(ValueError, match="alpha must be in"):
        interpolate(a, b, 1.5)
    with pytest.raises(ValueError, match="different tensors"):
        interpolate({"w": a["w"]}, b, 0.5)


def test_recipe_rejects_alpha_outside_0_1():
    with pytest.raises(ValueError, match="wise_alpha"):
        RecipeOptions(wise_alpha=-0.1)


@pytest.mark.slow
def test_a_wise_run_saves_the_interpolated_model_and_reports_every_alpha(tiny_bert, separable, tmp_path):
    """Same seed, so the same training: the alpha 0 and alpha 1 runs are the two ends, and the
    alpha 0.5 run saves their midpoint and scores what the alpha 1 run reported for 0.5."""
    from safetensors.torch import load_file

    cfg = RunConfig(method="two-stage", train=str(separable["train"]), eval=str(separable["eval"]), augmented=str(separable["augmented"]),
                    output="", model=str(tiny_bert), seed=3, max_length=32, progress=False,
                    recipe=RecipeOptions(stage1_epochs=1, stage2_epochs=2, stage1_lr=1e-3, stage2_lr=1e-3, batch_size=8,
                                         tfidf_weight=0.0))  # the alpha grid reports the transformer alone
    runs, weights = {}, {}
    for alpha in (0.0, 1.0, 0.5):
        out = tmp_path / f"alpha-{alpha}"
        runs[alpha] = run(replace(cfg, output=str(out), recipe=replace(cfg.recipe, wise_alpha=alpha)))
        weights[alpha] = load_file(out / "model" / "model.safetensors")
    assert set(runs[1.0]["wise"]) == {str(a) for a in WISE_GRID}
    assert set(runs[0.0]["wise"]) == {str(a) for a in (0.0, *WISE_GRID)}
    for key in ("micro_f1", "macro_f1", "non_majority_micro_f1"):
        assert runs[0.5][key] == runs[1.0]["wise"]["0.5"][key]
    assert runs[0.5]["wise_alpha"] == 0.5
    w0, w1, mid = weights[0.0], weights[1.0], weights[0.5]
    assert any(not torch.equal(w0[k], w1[k]) for k in w1)  # finetuning moved the weights
    for k in mid:
        if mid[k].is_floating_point():
            torch.testing.assert_close(mid[k], (w0[k] + w1[k]) / 2, rtol=0, atol=1e-6)
    cfg_json = json.loads((tmp_path / "alpha-0.5" / "run.json").read_text())
    assert cfg_json["run"]["recipe"]["wise_alpha"] == 0.5


@pytest.mark.slow
def test_vanilla_has_no_wise_report(tiny_bert, separable, tmp_path):
    cfg = RunConfig(method="vanilla", train=str(separable["train"]), eval=str(separable["eval"]), output=str(tmp_path / "v"),
                    model=str(tiny_bert), seed=3, max_length=32, progress=False, recipe=RecipeOptions(stage2_epochs=1, batch_size=8))
    assert "wise" not in run(cfg)


@pytest.mark.slow
def test_tfidf_blend_is_saved_scored_and_exported(tiny_bert, separable, tmp_path):
    """blend.py: a run with --tfidf-weight 0.5 saves the peer; Classifier (PyTorch and ONNX) gives
    0.5 x transformer + 0.5 x peer; the run reports every weight of the grid."""
    import numpy as np

    import prefit
    from prefit.model.blend import BLEND_GRID

    cfg = RunConfig(method="vanilla", train=str(separable["train"]), eval=str(separable["eval"]), output=str(tmp_path / "plain"),
                    model=str(tiny_bert), seed=3, max_length=32, progress=False, recipe=RecipeOptions(stage2_epochs=1, batch_size=8))
    plain = run(cfg)
    blended = run(replace(cfg, output=str(tmp_path / "blend"), recipe=replace(cfg.recipe, tfidf_weight=0.5)))
    assert set(plain["blend"]) == {str(w) for w in BLEND_GRID} and blended["tfidf_weight"] == 0.5
    assert blended["micro_f1"] == plain["blend"]["0.5"]["micro_f1"]  # same training: the grid predicted it
    texts = [r["text"] for r in read_jsonl(separable["eval"])][:6]
    p_t = prefit.Classifier.load(tmp_path / "plain").predict_proba(texts)
    p_b = prefit.Classifier.load(tmp_path / "blend").predict_proba(texts)
    peer = prefit.train("tfidf-lr", train=separable["train"], output=tmp_path / "peer", seed=3).load().predict_proba(texts)
    np.testing.assert_allclose(p_b, 0.5 * p_t + 0.5 * peer, atol=1e-5)
    prefit.export(tmp_path / "blend", tmp_path / "export")
    np.testing.assert_allclose(prefit.Classifier.load(tmp_path / "export").predict_proba(texts), p_b, atol=1e-4)
