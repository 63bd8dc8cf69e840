"""Windowed reading (prefit.model.windows): a text longer than max_length is read as consecutive
windows whose logits are averaged; training evaluation, the PyTorch predictor and the ONNX scorer
share it, and a run records both readings so that comparisons can reuse it for either."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from transformers import AutoTokenizer

from prefit.model.registry import resolve_encoder
from prefit.model.windows import per_text, text_logits, window_ids

LONG = ("Absorption of the drug is rapid and nearly complete after oral administration of the tablet. " * 12).strip()
TEXTS = [LONG, "It is excreted in urine.", "", LONG[:300]]


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(resolve_encoder(None))


def test_windows_cover_the_whole_text_and_the_first_is_plain_truncation(tok):
    seqs, owner = window_ids(tok, TEXTS, 32, max_windows=100)
    body = tok(LONG, add_special_tokens=False)["input_ids"]
    mine = [s for s, k in zip(seqs, owner) if k == 0]
    assert len(mine) == -(-len(body) // 30) > 3  # 30 word pieces a window beside [CLS] and [SEP]
    assert all(s[0] == tok.cls_token_id and s[-1] == tok.sep_token_id and len(s) <= 32 for s in seqs)
    assert [i for s in mine for i in s[1:-1]] == body  # nothing lost, nothing repeated
    assert owner == sorted(owner) and set(owner) == {0, 1, 2, 3}
    assert seqs[owner.index(2)] == [tok.cls_token_id, tok.sep_token_id]  # an empty text is one empty window
    for k, text in enumerate(TEXTS):
        assert seqs[owner.index(k)] == tok(text, truncation=True, max_length=32)["input_ids"]
    capped, capped_owner = window_ids(tok, TEXTS, 32, max_windows=2)
    assert capped_owner.count(0) == 2 and capped[:2] == mine[:2]



def test_a_huge_text_is_tokenised_only_as_far_as_the_windows_read(tok, monkeypatch):
    """#37 item 14: a 5 MB text peaked at 1 GB because all of it was tokenised before the window
    cap. Now the tokenizer sees a prefix of a few KB, and the windows are exactly the full text's."""
    import prefit.model.windows as W

    huge = ("Renal clearance accounts for most of the elimination; " * 100_000)  # 5.5 MB
    seen = []

    class Spy:
        pad_token_id = tok.pad_token_id

        def __call__(self, text, **kw):
            seen.append(max(map(len, text)) if isinstance(text, list) else len(text))
            return tok(text, **kw)

    for max_windows in (1, 4, 16):
        seen.clear()
        got, owner = window_ids(Spy(), [huge, "short"], 32, max_windows=max_windows)
        assert max(seen) <= max_windows * 32 * W.CHARS_PER_TOKEN * 4 < len(huge) // 100
        reference = tok(huge[:20_000], truncation=True, max_length=32, return_overflowing_tokens=True, stride=0)["input_ids"]
        assert [s for s, k in zip(got, owner) if k == 0] == [list(x) for x in reference[:max_windows]]
    whitespace = " " * 200_000 + LONG  # few tokens in many characters: the prefix grows until it has them
    seqs, owner = window_ids(tok, [whitespace], 32, max_windows=3)
    assert seqs == window_ids(tok, [LONG], 32, max_windows=3)[0]


def test_per_text_takes_the_first_window_or_the_mean():
    logits = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 5.0], [2.0, 2.0]], dtype=np.float32)
    owner = [0, 0, 0, 1]
    assert per_text(logits, owner, 2, "first").tolist() == [[1.0, 0.0], [2.0, 2.0]]
    assert np.allclose(per_text(logits, owner, 2, "windows"), [[4 / 3, 7 / 3], [2.0, 2.0]])
    with pytest.raises(ValueError, match="read must be one of first, windows"):
        per_text(logits, owner, 2, "all")


def test_text_logits_equal_each_window_scored_alone(tok):
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(resolve_encoder(None), num_labels=3).eval()

    def logits_of(ids, mask):
        with torch.no_grad():
            return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()

    got = text_logits(tok, TEXTS, logits_of, max_length=32, read="windows", batch_size=3)
    seqs, owner = window_ids(tok, TEXTS, 32, 16)
    with torch.no_grad():  # each window alone, unpadded, then averaged by hand
        alone = [model(input_ids=torch.tensor([s])).logits[0].numpy() for s in seqs]
    for k in range(len(TEXTS)):
        hand = np.mean([alone[i] for i in range(len(seqs)) if owner[i] == k], axis=0)
        assert np.allclose(got[k], hand, atol=1e-4)
    first = text_logits(tok, TEXTS, logits_of, max_length=32, read="first")
    assert np.allclose(first[0], alone[0], atol=1e-4) and not np.allclose(first[0], got[0], atol=1e-3)


def test_a_run_records_both_readings_and_compare_reuses_it_for_either(tiny_bert, separable, tmp_path):
    from dataclasses import replace

    from prefit.stages.train.compare import _run_or_reuse
    from prefit.stages.train.recipes import RecipeOptions
    from prefit.stages.train.run import RunConfig, metrics_for_reading

    cfg = RunConfig("vanilla", str(separable["train"]), str(separable["eval"]), str(tmp_path / "run"), model=str(tiny_bert),
                    max_length=12, recipe=RecipeOptions(stage2_epochs=1), progress=False)
    m = _run_or_reuse(cfg)
    assert m["read"] == "windows" and set(m["readings"]) == {"first", "windows"}
    assert m["readings"]["windows"]["windows"] > m["n"]  # the eval texts are longer than 12 tokens
    assert m["macro_f1"] == m["readings"]["windows"]["macro_f1"]
    lm = json.loads((tmp_path / "run" / "model" / "label_map.json").read_text())
    assert (lm["read"], lm["max_windows"]) == ("windows", 16)
    mtime = (tmp_path / "run" / "metrics.json").stat().st_mtime_ns
    again = _run_or_reuse(replace(cfg, read="first"))  # reused, not retrained, with the other reading's numbers
    assert (tmp_path / "run" / "metrics.json").stat().st_mtime_ns == mtime
    assert again["read"] == "first" and again["confusion_matrix"] == m["readings"]["first"]["confusion_matrix"]
    # A run recorded before windowed reading existed has the first reading only.
    old = {k: v for k, v in m.items() if k not in ("readings", "read")}
    assert metrics_for_reading(old, "first", 16) == old and metrics_for_reading(old, "windows", 16) is None
    assert metrics_for_reading(m, "windows", 4) is None  # another window cap is another reading


def test_score_and_export_read_as_the_run_was_evaluated(trained_run, tmp_path):
    """The fixture run (max length 64) reads PK paragraphs in windows: the PyTorch predictor and the
    ONNX export both average the windows, and their probabilities match the run's own reading."""
    from prefit.cli.train import main as train
    from prefit.model.classifier import Classifier
    from prefit.model.onnx import OnnxBackend

    lm = json.loads((trained_run / "model" / "label_map.json").read_text())
    assert lm["read"] == "windows"
    mixed = LONG + " " + "Most of the dose is excreted in urine unchanged, the rest in feces as metabolites. " * 12
    texts = [mixed, "It is excreted in urine."]
    pred = Classifier.load(trained_run, "cpu").backend  # the PyTorch backend, to change its reading below
    assert (pred.read, pred.max_windows) == ("windows", 16)
    p_windows = pred.probabilities(texts)
    exp = tmp_path / "exp"
    r = CliRunner().invoke(train, ["export", str(trained_run), "-o", str(exp), "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads((exp / "metadata.json").read_text())["read"] == "windows"
    assert np.abs(OnnxBackend(exp, "cpu", "fp32").probabilities(texts) - p_windows).max() < 1e-4
    # The barely trained fixture model is nearly uniform; magnified logits show the readings apart.
    with torch.no_grad():
        pred.model.classifier.weight *= 1e3
    sharp_windows = pred.probabilities(texts)
    pred.read = "first"
    sharp_first = pred.probabilities(texts)
    assert np.abs(sharp_first[0] - sharp_windows[0]).max() > 1e-3  # the long text reads differently
    assert np.abs(sharp_first[1] - sharp_windows[1]).max() < 1e-5  # a one-window text reads the same


def test_a_config_recorded_before_windowed_reading_re_runs_with_the_first_reading(tmp_path):
    from dataclasses import asdict

    from prefit.stages.train.run import RunConfig, load_run_config

    new = asdict(RunConfig("vanilla", "t.jsonl", "e.jsonl", "o"))
    assert (new["read"], new["max_windows"]) == ("windows", 16)
    old = {k: v for k, v in new.items() if k not in ("read", "max_windows")}
    (tmp_path / "config.json").write_text(json.dumps({"run": old}))
    assert load_run_config(tmp_path / "config.json").read == "first"  # as that run was evaluated
    (tmp_path / "config.json").write_text(json.dumps({"run": new}))
    assert load_run_config(tmp_path / "config.json").read == "windows"


def test_read_options_on_the_command_line(tmp_path):
    from prefit.cli.train import main as train

    for method in ("two-stage", "vanilla", "compare"):
        help_text = CliRunner().invoke(train, [method, "--help"]).output
        assert "--read [first|windows]" in help_text and "--max-windows" in help_text
    assert "--read" not in CliRunner().invoke(train, ["tfidf-lr", "--help"]).output  # a peer reads whole texts its own way
    r = CliRunner().invoke(train, ["vanilla", "--train", "t.jsonl", "--eval", "e.jsonl", "-o", str(tmp_path / "r"), "--max-windows", "0"])
    assert r.exit_code == 2 and "--max-windows" in r.output
