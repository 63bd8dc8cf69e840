"""A run folder read by the tools people already use (model/hf_layout.py): transformers and
sentence-transformers either give prefit's predictions (>= 99% agreement, probabilities equal)
or refuse the folder; never a silent wrong answer."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _texts(path, n=40) -> list[str]:
    return [json.loads(x)["text"] for x in path.read_text().splitlines()[:n]]


@pytest.fixture(scope="module")
def mean_run(separable, tiny_bert, tmp_path_factory):
    from click.testing import CliRunner

    from prefit.cli.train import main as train

    run = tmp_path_factory.mktemp("meanrun") / "run"
    r = CliRunner().invoke(train, ["vanilla", "--model", str(tiny_bert), "--pooling", "mean", "--train", str(separable["train"]),
                                   "--eval", str(separable["eval"]), "-o", str(run), "--stage2-epochs", "2", "--lr", "1e-3",
                                   "--max-length", "64", "-q"])
    assert r.exit_code == 0, r.output
    return run


def _agree(a: np.ndarray, b: np.ndarray) -> float:
    return float((a.argmax(1) == b.argmax(1)).mean())


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_sentence_transformers_gives_prefits_predictions_for_a_mean_pooled_run(mean_run, separable, monkeypatch):
    from sentence_transformers import SentenceTransformer

    import prefit

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = _texts(separable["eval"])
    clf = prefit.Classifier.load(mean_run, device="cpu")
    ours = clf.predict_proba(texts)
    logits = SentenceTransformer(str(mean_run / "model"), device="cpu").encode(texts, convert_to_numpy=True)
    assert logits.shape == ours.shape
    assert _agree(logits, ours) >= 0.99
    np.testing.assert_allclose(_softmax(logits), ours, atol=1e-4)
    assert [clf.labels[i] for i in logits.argmax(1)] == clf.predict(texts)


def test_transformers_refuses_a_mean_pooled_run_instead_of_reading_its_cls_token(mean_run):
    from transformers import AutoModelForSequenceClassification

    model_dir = mean_run / "model"
    assert (model_dir / "model.prefit.safetensors").exists() and not (model_dir / "model.safetensors").exists()
    with pytest.raises(OSError, match="model.safetensors"):
        AutoModelForSequenceClassification.from_pretrained(model_dir)
    assert "refuses this folder" in (model_dir / "README.md").read_text()


def test_a_cls_pooled_run_agrees_in_transformers_and_sentence_transformers(trained_run, separable, monkeypatch):
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import prefit

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = AutoTokenizer.from_pretrained(trained_run / "model")
    texts = _texts(separable["eval"])
    assert max(len(tok(t)["input_ids"]) for t in texts) <= 64  # one window: what these tools read
    ours = prefit.Classifier.load(trained_run, device="cpu").predict_proba(texts)
    hf = AutoModelForSequenceClassification.from_pretrained(trained_run / "model").eval()
    with torch.inference_mode():
        hf_logits = hf(**tok(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")).logits.numpy()
    st_logits = SentenceTransformer(str(trained_run / "model"), device="cpu").encode(texts, convert_to_numpy=True)
    for logits in (hf_logits, st_logits):
        assert _agree(logits, ours) >= 0.99
        np.testing.assert_allclose(_softmax(logits), ours, atol=1e-4)


def test_the_run_folder_itself_is_not_mistaken_for_a_model(mean_run, monkeypatch):
    """prefit's settings are run.json: no config.json beside the run's files for a loader to misread."""
    from transformers import AutoConfig

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert (mean_run / "run.json").exists() and not (mean_run / "config.json").exists()
    with pytest.raises((OSError, ValueError)):
        AutoConfig.from_pretrained(mean_run)
