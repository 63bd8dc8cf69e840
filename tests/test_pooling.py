"""Pooling follows the checkpoint: mean over real tokens for the packaged sentence-transformers
encoder, the model's own head otherwise; saved with the run, reproduced by export and score."""

import json

import pytest
import torch
from click.testing import CliRunner

from prefit.model.cls_top import classify, supports
from prefit.model.pooling import checkpoint_pooling, resolve_pooling, set_pooling
from prefit.model.registry import resolve_encoder

TEXTS = ["Peak plasma concentrations occur within 2 hours.", "It is excreted in urine.",
         "The volume of distribution is 1.2 L/kg and plasma protein binding is 95% in healthy adults."]


def test_auto_pooling_reads_the_checkpoint(tiny_bert):
    packaged = resolve_encoder(None)
    assert checkpoint_pooling(packaged) == ("mean", True)  # modules.json: Pooling (mean) + Normalize
    assert resolve_pooling("auto", packaged) == "mean"
    assert resolve_pooling("cls", packaged) == "cls"
    assert checkpoint_pooling(str(tiny_bert)) == (None, False)
    assert resolve_pooling("auto", str(tiny_bert)) == "cls"  # no sentence-transformers config: the model's own head


def test_mean_pooling_equals_a_hand_computation_on_the_packaged_encoder():
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = resolve_encoder(None)
    tok = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).eval()
    set_pooling(model, "mean")
    assert not supports(model)  # mean pooling reads every row: no [CLS]-only shortcut
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = classify(model, enc["input_ids"], enc["attention_mask"], token_type_ids=enc["token_type_ids"])
        for i, text in enumerate(TEXTS):  # each text alone, no padding: the plain average of its token vectors
            one = tok(text, return_tensors="pt")
            hidden = model.bert(**one).last_hidden_state[0]
            mean = sum(hidden[j] for j in range(hidden.shape[0])) / hidden.shape[0]
            hand = model.classifier.weight @ mean + model.classifier.bias
            assert torch.allclose(logits[i], hand, atol=1e-5)
    # The probe's embeddings: the same mean, L2-normalised (sentence-transformers' Normalize module).
    from prefit.model.embeddings import embedding_spec, encode

    spec = embedding_spec(None)
    assert (spec.pooling, spec.normalize, spec.max_length) == ("mean", True, 256)
    emb = encode(TEXTS, spec)
    with torch.no_grad():
        h = model.bert(**tok(TEXTS[1], return_tensors="pt")).last_hidden_state[0].mean(0)
    assert torch.allclose(torch.from_numpy(emb[1]), h / h.norm(), atol=1e-5)
    assert abs(float((emb**2).sum(1)[0]) - 1) < 1e-5


@pytest.mark.slow
def test_mean_pooling_is_saved_exported_and_scored(separable, tiny_bert, tmp_path):
    from prefit.cli.train import main as train
    from prefit.model.onnx import OnnxBackend

    run = tmp_path / "run"
    r = CliRunner().invoke(train, ["vanilla", "--model", str(tiny_bert), "--pooling", "mean", "--train", str(separable["train"]),
                                   "--eval", str(separable["eval"]), "-o", str(run), "--lr", "1e-3", "--epochs", "1",
                                   "--max-length", "32", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads((run / "model" / "label_map.json").read_text())["pooling"] == "mean"
    assert json.loads((run / "model" / "config.json").read_text())["prefit_pooling"] == "mean"
    exp = tmp_path / "export"
    r = CliRunner().invoke(train, ["export", str(run), "-o", str(exp), "--int8"])
    assert r.exit_code == 0, r.output
    meta = json.loads((exp / "metadata.json").read_text())
    assert meta["pooling"] == "mean" and meta["top_layer_cls_only"] is False
    assert all(p["ok"] for p in meta["parity"]) and meta["parity"][0]["max_abs_diff"] < 1e-3
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(run / "model", variant="prefit").eval()  # mean: the variant (hf_layout.py)
    tok = AutoTokenizer.from_pretrained(run / "model")
    enc = tok(TEXTS, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.no_grad():
        ref = classify(model, enc.pop("input_ids"), enc.pop("attention_mask"), **enc).softmax(-1).numpy()
    got = OnnxBackend(exp, device="cpu", variant="fp32").probabilities(TEXTS)
    assert abs(got - ref).max() < 1e-4
