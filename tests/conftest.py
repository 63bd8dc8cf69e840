"""Shared fixtures. Expensive artefacts (a copy-trained tiny Marian model converted with the real
CTranslate2 converter) are built once per session, under pytest's temporary directory."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def _spl_samples() -> Path:
    """The SPL labels the tests read: the five samples the package ships (prefit/demo_data/spl, one
    copy in the repository) and the test-only ones of tests/data/spl-extra, in one folder."""
    import atexit
    import tempfile
    from importlib.resources import files

    d = Path(tempfile.mkdtemp(prefix="prefit-spl-"))
    atexit.register(shutil.rmtree, d, True)
    shipped, extra = Path(str(files("prefit").joinpath("demo_data/spl"))), DATA / "spl-extra"
    for src in (shipped, extra):
        for f in src.glob("*.xml"):
            shutil.copy(f, d / f.name)
    rows = (shipped / "SOURCES.tsv").read_text().splitlines() + (extra / "SOURCES.tsv").read_text().splitlines()[1:]
    (d / "SOURCES.tsv").write_text("\n".join(rows) + "\n")
    return d


SPL_DIR = _spl_samples()

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _vocabulary() -> list[str]:
    words = []
    with open(DATA / "news_small.jsonl") as fh:
        for line in fh:
            words.extend(w for w in json.loads(line)["text"].split() if w.isalpha() and len(w) < 9)
    return sorted(set(words))


def short_sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = _vocabulary()
    return [" ".join(rng.sample(words, rng.randint(3, 7))) + rng.choice(["", "", ".", "!", "?"]) for _ in range(n)]


USER_CACHE = os.environ.get("PREFIT_CACHE")  # read at import, before the fixture below replaces it


@pytest.fixture(scope="session", autouse=True)
def _private_data_home(tmp_path_factory):
    """Tests write only under pytest's temporary directory, WordNet's offline copy and the built-in
    labeller's cache included (USER_CACHE keeps where `./run setup` built it, for reading)."""
    os.environ["PREFIT_DATA"] = str(tmp_path_factory.mktemp("prefit_data"))
    os.environ["PREFIT_CACHE"] = str(tmp_path_factory.mktemp("prefit_cache"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def copy_model_hf(tmp_path_factory) -> Path:
    """A tiny Marian model trained for a few hundred steps to copy its input (~30 s on 2 cores)."""
    from toy_models import MarianShape, build_marian

    out = tmp_path_factory.mktemp("marian") / "hf"
    # The fixtures' own test sentences are in the training set, so greedy copies are exact.
    lines = short_sentences(600, 0) + short_sentences(14, 1) * 5 + [
        "say full all", "not IBM brings Branch", "hard problem degree those Tammy Has", "Bob vs divided flame only systems"] * 5
    build_marian(out, lines, MarianShape(d_model=64, layers=2, heads=4, ffn_dim=128, vocab_size=300),
                 copy_train_steps=800)
    return out


@pytest.fixture(scope="session")
def models_dir(copy_model_hf, tmp_path_factory) -> Path:
    """MODELS_DIR with en-de, de-en, en-ru, ru-en: all the same copy model, converted to int8."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("models")
    ct2 = root / "en-de"
    subprocess.run(
        [str(Path(sys.executable).with_name("ct2-transformers-converter")), "--model", str(copy_model_hf),
         "--output_dir", str(ct2), "--quantization", "int8"],
        check=True, capture_output=True,
    )
    for f in ("source.spm", "target.spm"):
        shutil.copy(copy_model_hf / f, ct2 / f)
    for pair in ("de-en", "en-ru", "ru-en"):
        shutil.copytree(ct2, root / pair)
    return root


def write_jsonl(path: Path, rows) -> Path:
    with open(path, "w") as fh:
        for r in rows:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


@pytest.fixture
def imbalanced_jsonl(tmp_path) -> Path:
    """14 short records: a=8, b=4, c=2; ids r0..r13; an extra field to carry through."""
    sents = short_sentences(14, 1)
    labels = ["a"] * 8 + ["b"] * 4 + ["c"] * 2
    rows = [{"id": f"r{i}", "text": s, "label": lab, "source": "test"} for i, (s, lab) in enumerate(zip(sents, labels))]
    return write_jsonl(tmp_path / "in.jsonl", rows)


def read_jsonl(path: Path) -> list[dict]:
    with open(path) as fh:
        return [json.loads(line) for line in fh]


KEYWORDS = {
    "absorption": ["absorbed", "bioavailability", "peak plasma", "Tmax", "food effect"],
    "metabolism": ["metabolized", "CYP3A4", "hepatic enzymes", "metabolite", "glucuronidation"],
    "excretion": ["excreted", "urine", "renal clearance", "feces", "elimination half-life"],
}


def separable_rows(n_per_class: int, seed: int, counts: dict[str, int] | None = None) -> list[dict]:
    """Short pharmacokinetic-sounding sentences whose class is given away by a keyword."""
    rng = random.Random(seed)
    filler = _vocabulary()
    rows = []
    for lab, kws in KEYWORDS.items():
        for i in range((counts or {}).get(lab, n_per_class)):
            words = rng.sample(filler, 6)
            words.insert(rng.randint(0, 6), rng.choice(kws))
            rows.append({"id": f"{lab}-{seed}-{i}", "text": "The drug is " + " ".join(words) + ".", "label": lab})
    rng.shuffle(rows)
    return rows


@pytest.fixture(scope="session")
def separable(tmp_path_factory) -> dict[str, Path]:
    """Imbalanced train (24/8/4), balanced augmented-like set, balanced eval."""
    d = tmp_path_factory.mktemp("separable")
    return {
        "train": write_jsonl(d / "train.jsonl", separable_rows(0, 1, {"absorption": 24, "metabolism": 8, "excretion": 4})),
        "augmented": write_jsonl(d / "aug.jsonl", separable_rows(24, 2)),
        "eval": write_jsonl(d / "eval.jsonl", separable_rows(15, 3)),
    }


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer BERT (hidden 32, random weights) with all-MiniLM-L6-v2's tokenizer, saved locally."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from prefit.model.registry import resolve_encoder

    out = tmp_path_factory.mktemp("tiny_bert")
    tok = AutoTokenizer.from_pretrained(resolve_encoder(None))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, num_labels=2)
    BertForSequenceClassification(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, tiny_bert):
    """A tiny classifier trained for one epoch on ADME-labelled paragraphs of one label."""
    from click.testing import CliRunner

    from prefit.cli.score import main as score
    from prefit.cli.train import main as train

    d = tmp_path_factory.mktemp("scorerun")

    data = SPL_DIR
    r = CliRunner().invoke(score, [str(data / "570974d4-0d5b-4df2-b307-37380511835d.xml"), str(data / "c6e131fe-e7df-4876-83f7-9156fc4e8228.xml"),
                                   "--extract-only", "-o", str(d / "paras.jsonl"), "-q"])
    assert r.exit_code == 0, r.output
    # paragraphs that no heading gives a topic have a null label: not training data
    rows = [x for x in (d / "paras.jsonl").read_text().splitlines() if json.loads(x)["label"] is not None]
    (d / "labelled.jsonl").write_text("\n".join(rows) + "\n")
    r = CliRunner().invoke(train, ["vanilla", "--model", str(tiny_bert), "--train", str(d / "labelled.jsonl"), "--eval", str(d / "labelled.jsonl"),
                                   "-o", str(d / "run"), "--stage2-epochs", "1", "--max-length", "64", "-q"])
    assert r.exit_code == 0, r.output
    return d / "run"
