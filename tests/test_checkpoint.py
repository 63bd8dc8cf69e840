"""Epoch checkpoints (train/checkpoint.py): a run killed between epochs resumes with the same result."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
import torch

from prefit.stages.train.checkpoint import Checkpoint, checkpoint_path
from prefit.stages.train.recipes import RecipeOptions
from prefit.stages.train.run import RunConfig, run


class Killed(Exception):
    """Stands for the process being killed right after a checkpoint was written."""


def _config(tiny_bert, separable, out, **recipe) -> RunConfig:
    return RunConfig(method="two-stage", train=str(separable["train"]), eval=str(separable["eval"]), augmented=str(separable["augmented"]),
                     output=str(out), model=str(tiny_bert), seed=3, max_length=32, progress=False,
                     recipe=RecipeOptions(stage1_epochs=1, stage2_epochs=3, stage1_lr=1e-3, stage2_lr=1e-3, batch_size=8, **recipe))


def _weights(run_dir) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(run_dir / "model" / "model.safetensors")


@pytest.mark.parametrize(("kill_after", "recipe"), [(1, {}), (2, {"sam_rho": 0.05}), (2, {"wise_alpha": 0.5})],
                         ids=["after-stage-1", "mid-stage-2-with-sam", "mid-stage-2-with-wise-ft"])
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tiny_bert, separable, tmp_path, monkeypatch, kill_after, recipe):
    whole = run(_config(tiny_bert, separable, tmp_path / "whole", **recipe))

    cfg = _config(tiny_bert, separable, tmp_path / "killed", **recipe)
    saves = []
    original = Checkpoint.save

    def save_then_die(self, state):
        original(self, state)
        saves.append(state["stage"])
        if len(saves) == kill_after:
            raise Killed

    monkeypatch.setattr(Checkpoint, "save", save_then_die)
    with pytest.raises(Killed):
        run(cfg)
    monkeypatch.undo()
    assert not (tmp_path / "killed").exists()  # no half-made run directory ...
    assert checkpoint_path(tmp_path / "killed").exists()  # ... but its finished epochs are kept

    resumed = run(cfg)
    # kill after save 1: stage 1 (one epoch) done; after save 2: stage 2's first epoch done too
    assert resumed["resumed"] == {"stages_done": 1, "epochs_done": kill_after - 1}
    assert not checkpoint_path(tmp_path / "killed").exists()
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "killed")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for key in ("micro_f1", "macro_f1", "non_majority_micro_f1"):
        assert resumed[key] == whole[key]
    def losses(m):
        return [[e["loss"] for e in h["epochs"]] for h in m["history"]]

    assert losses(resumed) == losses(whole) and [len(x) for x in losses(whole)] == [1, 3]  # the same epochs, same losses
    assert "resumed" not in whole
    assert json.loads((tmp_path / "killed" / "metrics.json").read_text())["resumed"] == resumed["resumed"]


def test_a_checkpoint_of_other_training_is_ignored(tiny_bert, separable, tmp_path, monkeypatch, caplog):
    cfg = _config(tiny_bert, separable, tmp_path / "run")

    def die(self, state):
        torch.save({**state, "key": self.key}, self.path)
        raise Killed

    monkeypatch.setattr(Checkpoint, "save", die)
    with pytest.raises(Killed):
        run(cfg)
    monkeypatch.undo()
    assert checkpoint_path(tmp_path / "run").exists()

    other = replace(cfg, recipe=replace(cfg.recipe, stage2_lr=5e-4))  # another training into the same directory
    with caplog.at_level(logging.WARNING, logger="prefit"):
        m = run(other)
    assert "belongs to another training" in caplog.text
    assert "resumed" not in m and [len(h["epochs"]) for h in m["history"]] == [1, 3]
    assert not checkpoint_path(tmp_path / "run").exists()


def test_an_unreadable_checkpoint_is_ignored(tiny_bert, separable, tmp_path, caplog):
    cfg = replace(_config(tiny_bert, separable, tmp_path / "run"), recipe=RecipeOptions(stage1_epochs=1, stage2_epochs=1, batch_size=8))
    checkpoint_path(tmp_path / "run").write_bytes(b"not a checkpoint")
    with caplog.at_level(logging.WARNING, logger="prefit"):
        m = run(cfg)
    assert "ignoring unreadable epoch checkpoint" in caplog.text and "resumed" not in m
