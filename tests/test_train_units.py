"""Losses against their formulas on hand-computed cases, SAM's two steps, freezing, metrics, seeds."""

import math

import pytest
import torch

from prefit.stages.train.freeze import freeze_all_but_top, num_layers, trainable, trainable_mask
from prefit.stages.train.losses import (
    ImbalanceLoss,
    LossSpec,
    effective_number_weights,
    focal_loss,
    ldam_loss,
    ldam_margins,
)
from prefit.stages.train.metrics import classification_metrics, mean_sem
from prefit.stages.train.sam import SAM


def test_effective_number_weights_by_hand():
    # n = (1, 2), beta = 0.5: E = (1-0.5^n)/(1-0.5) = (1, 1.5); w ~ (1, 2/3) -> normalised to sum 2: (1.2, 0.8)
    w = effective_number_weights([1, 2], beta=0.5)
    assert torch.allclose(w, torch.tensor([1.2, 0.8]))
    # beta = 0 gives equal weights; beta -> 1 approaches inverse frequency
    assert torch.allclose(effective_number_weights([10, 1000], beta=0.0), torch.tensor([1.0, 1.0]))
    w = effective_number_weights([10, 1000], beta=0.999999)
    assert abs(float(w[0] / w[1]) - 100) < 1.0
    with pytest.raises(ValueError):
        effective_number_weights([1, 2], beta=1.0)


def test_focal_loss_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p = (0.25, 0.75)
    target = torch.tensor([1])
    expected = -((1 - 0.75) ** 2) * math.log(0.75)
    assert focal_loss(logits, target, gamma=2.0).item() == pytest.approx(expected, rel=1e-5)
    # gamma = 0 is cross-entropy
    assert focal_loss(logits, target, gamma=0.0).item() == pytest.approx(-math.log(0.75), rel=1e-5)
    # weighted mean over a batch: sum(w_i * l_i) / sum(w_i)
    logits2 = torch.tensor([[0.0, math.log(3.0)], [0.0, math.log(3.0)]])
    t2 = torch.tensor([1, 0])
    l1, l0 = -(0.25**2) * math.log(0.75), -(0.75**2) * math.log(0.25)
    got = focal_loss(logits2, t2, gamma=2.0, weight=torch.tensor([3.0, 1.0])).item()
    assert got == pytest.approx((1 * l1 + 3 * l0) / 4, rel=1e-5)


def test_ldam_margins_and_loss_by_hand():
    m = ldam_margins([16, 1], max_margin=0.5)  # n^-1/4 = (0.5, 1) -> scaled so max is 0.5
    assert torch.allclose(m, torch.tensor([0.25, 0.5]))
    logits = torch.tensor([[1.0, 0.0]])
    target = torch.tensor([0])
    # true-class logit minus its margin 0.25, then scale 2: logits (1.5, 0)
    expected = -math.log(math.exp(1.5) / (math.exp(1.5) + 1.0))
    assert ldam_loss(logits, target, m, scale=2.0).item() == pytest.approx(expected, rel=1e-5)


def test_drw_switches_weights_on_at_its_epoch():
    loss = ImbalanceLoss(LossSpec("ce", "drw", beta=0.5, drw_epoch=2), [1, 2])
    assert loss.weight_for(0) is None and loss.weight_for(1) is None
    assert torch.allclose(loss.weight_for(2), torch.tensor([1.2, 0.8]))
    logits, target = torch.tensor([[0.3, -0.2], [0.1, 0.4]]), torch.tensor([0, 1])
    plain = torch.nn.functional.cross_entropy(logits, target)
    weighted = torch.nn.functional.cross_entropy(logits, target, weight=torch.tensor([1.2, 0.8]))
    assert loss(logits, target, 0).item() == pytest.approx(plain.item())
    assert loss(logits, target, 2).item() == pytest.approx(weighted.item())
    with pytest.raises(ValueError):
        LossSpec("hinge")


def test_sam_two_steps():
    # L(w) = w^2 at w = 1: g = 2; e = rho * g/|g| = rho. SGD lr 0.1 with the gradient at w + e = 1 + rho.
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = SAM([w], torch.optim.SGD, rho=0.5, lr=0.1)
    (w**2).sum().backward()
    opt.first_step(zero_grad=True)
    assert w.item() == pytest.approx(1.5)  # climbed to the local maximum
    (w**2).sum().backward()  # gradient there: 2 * 1.5 = 3
    opt.second_step(zero_grad=True)
    assert w.item() == pytest.approx(1.0 - 0.1 * 3.0)  # stepped from the original w
    with pytest.raises(RuntimeError):
        opt.step()


def _tiny(tiny_bert):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3, ignore_mismatched_sizes=True)


def test_freeze_all_but_top_selects_top_layer_pooler_classifier(tiny_bert):
    model = _tiny(tiny_bert)
    assert num_layers(model) == 2
    names = freeze_all_but_top(model, 1)
    assert names and all(".layer.1." in n or ".pooler." in n or n.startswith("classifier.") for n in names)
    assert any(n.startswith("classifier.") for n in names) and any(".pooler." in n for n in names)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any("embeddings" in n for n in frozen) and any(".layer.0." in n for n in frozen)
    head = trainable_mask(model, "head")
    assert {n for n, on in head.items() if on} == {"classifier.weight", "classifier.bias"}
    with pytest.raises(ValueError):
        trainable_mask(model, "top:5")


def test_trainable_context_restores_flags_on_error(tiny_bert):
    model = _tiny(tiny_bert)
    with pytest.raises(KeyError), trainable(model, "head"):
        assert not model.bert.embeddings.word_embeddings.weight.requires_grad
        raise KeyError("boom")
    assert all(p.requires_grad for p in model.parameters())


def test_stage1_changes_only_top_stage2_changes_all(tiny_bert, separable):
    from transformers import AutoTokenizer

    from prefit.jsonl import Fields
    from prefit.stages.train.data import load_split
    from prefit.stages.train.loop import train_stage
    from prefit.stages.train.recipes import Stage

    model = _tiny(tiny_bert)
    tok = AutoTokenizer.from_pretrained(tiny_bert)
    split, labels = load_split(separable["augmented"], Fields(), None, tok, 32)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train_stage(model, Stage("s1", "augmented", "top:1", 1e-3, 1, batch_size=8), split, 3, tok.pad_token_id, torch.device("cpu"),
                seed=0, progress=False)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    expected = {n for n, on in trainable_mask(model, "top:1").items() if on}
    assert changed == expected
    assert all(p.requires_grad for p in model.parameters())  # flags restored after the stage
    mid = {n: p.detach().clone() for n, p in model.named_parameters()}
    train_stage(model, Stage("s2", "train", "all", 1e-3, 1, batch_size=8), split, 3, tok.pad_token_id, torch.device("cpu"),
                seed=0, progress=False)
    # every tensor changed, except embeddings rows of tokens never seen (compare whole tensors)
    unchanged = {n for n, p in model.named_parameters() if torch.equal(p, mid[n])}
    assert unchanged <= {"bert.embeddings.token_type_embeddings.weight"} or not unchanged


def test_metrics_match_scikit_learn():
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    rng = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (200,), generator=rng).tolist()
    p = [t if torch.rand(1, generator=rng).item() < 0.6 else int(torch.randint(0, 4, (1,), generator=rng)) for t in y]
    labels = ["a", "b", "c", "d"]
    counts = [50, 10, 5, 100]  # largest training class: d (index 3); minority (< 50): b, c
    m = classification_metrics(y, p, labels, counts)
    assert m["micro_f1"] == pytest.approx(f1_score(y, p, average="micro"))
    assert m["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    assert m["non_majority_micro_f1"] == pytest.approx(f1_score(y, p, labels=[0, 1, 2], average="micro"))
    pr, rc, f1, sup = precision_recall_fscore_support(y, p, labels=[0, 1, 2, 3], zero_division=0)
    for i, lab in enumerate(labels):
        assert m["per_class"][lab]["f1"] == pytest.approx(f1[i])
        assert m["per_class"][lab]["precision"] == pytest.approx(pr[i])
        assert m["per_class"][lab]["recall"] == pytest.approx(rc[i])
        assert m["per_class"][lab]["support"] == sup[i]
    assert m["confusion_matrix"]["matrix"] == confusion_matrix(y, p, labels=[0, 1, 2, 3]).tolist()
    assert m["minority_classes"] == ["b", "c"] and m["minority_mean_f1"] == pytest.approx((f1[1] + f1[2]) / 2)
    assert m["majority_class"] == "d"


def test_mean_sem():
    m, s = mean_sem([1.0, 2.0, 3.0])
    assert m == 2.0 and s == pytest.approx(1.0 / math.sqrt(3))
    assert mean_sem([5.0]) == (5.0, 0.0)


def test_results_table_shows_sem_only_with_two_or_more_seeds():
    from prefit.stages.train.compare import aggregate, markdown_table

    def run(x):
        return {"accuracy": x, "micro_f1": x, "macro_f1": x, "non_majority_micro_f1": x, "minority_mean_f1": x,
                "per_class": {"a": {"f1": x}}}

    one = markdown_table(aggregate({"vanilla": [run(0.5)]}), 1)
    assert "One seed: no standard error." in one and "| vanilla | 0.5000 | 0.5000 |" in one and "±" not in one
    two = markdown_table(aggregate({"vanilla": [run(0.5), run(0.7)]}), 2)
    assert "Mean ± SEM over 2 seeds." in two and "| vanilla | 0.6000 ± 0.1000 |" in two


def test_length_grouped_batches_cover_everything_once():
    import random

    from prefit.stages.train.data import length_grouped_batches

    lengths = [random.Random(i).randint(3, 100) for i in range(100)]
    batches = length_grouped_batches(lengths, 8, random.Random(0), megabatch=4)
    assert sorted(i for b in batches for i in b) == list(range(100))
    # within a batch lengths are close: each batch's spread is far below the global spread
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < (max(lengths) - min(lengths)) / 3


def test_recipe_defaults_live_in_one_place():
    from prefit.cli.train import RECIPES
    from prefit.stages.train.recipes import RecipeOptions
    from prefit.stages.train.run import RunConfig

    o, r = RecipeOptions(), RunConfig("vanilla", "t", "e", "o")
    assert RECIPES["prefit"] == {"stage2_lr": o.stage2_lr, "stage2_epochs": o.stage2_epochs, "pooling": r.pooling,
                                 "class_weights": o.loss.weights, "read": r.read, "wise_alpha": o.wise_alpha,
                                 "tfidf_weight": o.tfidf_weight}
    assert RECIPES["paper"] == {"stage2_lr": 1e-5, "stage2_epochs": 3, "pooling": "cls", "class_weights": "none", "read": "first",
                                "wise_alpha": 1.0, "tfidf_weight": 0.0}


def test_indices_by_and_oversample():
    from collections import Counter

    from prefit.jsonl import Record, indices_by
    from prefit.stages.train.data import Split, oversample

    assert indices_by(["b", "a", "b", "c", "b"]) == {"b": [0, 2, 4], "a": [1], "c": [3]}
    y = [0] * 6 + [1] * 2 + [2]
    split = Split("x", [Record(str(i), f"t{i}", str(v), i + 1, {}) for i, v in enumerate(y)], y, [[i] for i in range(len(y))])
    out = oversample(split, seed=1)
    assert Counter(out.y) == {0: 6, 1: 6, 2: 6}
    assert out.records[: len(y)] == split.records  # the originals first, in order
    for rec, yy, ids in zip(out.records, out.y, out.input_ids):  # duplicates keep their label and tokens
        i = int(rec.text[1:])
        assert (yy, ids) == (y[i], [i])
    assert oversample(split, seed=1).records == out.records


def test_class_weights_auto_resolve_per_method_and_reuse_compares_resolved_stages(tmp_path):
    import json
    from dataclasses import asdict, replace

    from prefit.stages.train.compare import same_training
    from prefit.stages.train.recipes import RecipeOptions, recipe
    from prefit.stages.train.run import RunConfig

    o = RecipeOptions()
    assert o.loss.weights == "auto"
    assert recipe("two-stage", o)[-1].loss.weights == "cb"
    assert [recipe(m, o)[-1].loss.weights for m in ("vanilla", "oversample", "lpft", "two-stage+ce")] == ["none"] * 4
    with pytest.raises(ValueError, match="resolved"):
        ImbalanceLoss(LossSpec(weights="auto"), [1, 2])

    def stored(cfg):  # what a finished run's config.json holds
        return json.loads(json.dumps({"run": asdict(cfg), "stages": [asdict(s) for s in recipe(cfg.method, cfg.recipe)]}))

    explicit = RunConfig(method="two-stage", train="t", eval="e", output="o", recipe=replace(o, loss=LossSpec(weights="cb")))
    default = replace(explicit, recipe=o)
    plain = replace(explicit, recipe=replace(o, loss=LossSpec(weights="none")))
    assert same_training(stored(explicit), default)  # a run made with --class-weights cb is the default two-stage now
    assert not same_training(stored(plain), default)  # the old default (no weights) is not
    assert not same_training(stored(default), replace(default, seed=1))
    assert same_training(stored(plain), replace(plain, method="two-stage+ce")) is False  # another method name is another run


def test_tfidf_weight_default_is_per_method_and_reuse_compares_the_weight_used():
    """two-stage (any loss variant) blends TF-IDF at 0.75 unless told otherwise; the baselines do
    not; `--recipe paper` does not; a run stored before the blend existed (no weight) is unblended."""
    import json
    from dataclasses import asdict, replace

    from prefit.cli.train import RECIPES
    from prefit.stages.train.compare import same_training
    from prefit.stages.train.recipes import RecipeOptions, recipe, tfidf_weight_of
    from prefit.stages.train.run import RunConfig

    o = RecipeOptions()
    assert [tfidf_weight_of(m, o) for m in ("two-stage", "two-stage+ldam-drw", "vanilla", "oversample", "lpft")] == [0.75, 0.75, 0, 0, 0]
    assert tfidf_weight_of("two-stage", replace(o, tfidf_weight=0.0)) == 0.0
    assert tfidf_weight_of("two-stage", RecipeOptions(tfidf_weight=RECIPES["paper"]["tfidf_weight"])) == 0.0
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        RecipeOptions(tfidf_weight=1.0)

    def stored(cfg, weight="keep"):
        run = asdict(cfg)
        if weight is None:
            del run["recipe"]["tfidf_weight"]  # recorded before the blend existed
        return json.loads(json.dumps({"run": run, "stages": [asdict(s) for s in recipe(cfg.method, cfg.recipe)]}))

    default = RunConfig(method="two-stage", train="t", eval="e", output="o")
    explicit = replace(default, recipe=replace(o, tfidf_weight=0.75))
    assert same_training(stored(explicit), default) and same_training(stored(default), explicit)
    assert not same_training(stored(default, weight=None), default)  # the old default: no blend
    assert same_training(stored(default, weight=None), replace(default, recipe=replace(o, tfidf_weight=0.0)))
    vanilla = replace(default, method="vanilla")
    assert same_training(stored(vanilla, weight=None), vanilla)  # the baselines' default did not change


def test_reuse_requires_the_same_data_contents(tmp_path):
    """A finished run is not reused once a data file at the same path is rebuilt with other
    contents (a parser fix that relabels paragraphs); a run recorded without fingerprints is judged
    by its paths, as before."""
    import json
    from dataclasses import asdict

    from prefit.stages.train.compare import same_training
    from prefit.stages.train.recipes import recipe
    from prefit.stages.train.run import RunConfig, data_fingerprints

    (tmp_path / "t.jsonl").write_text('{"text": "a", "label": "Other"}\n')
    (tmp_path / "e.jsonl").write_text('{"text": "b", "label": "Other"}\n')
    cfg = RunConfig(method="vanilla", train=str(tmp_path / "t.jsonl"), eval=str(tmp_path / "e.jsonl"), output="o")
    base = {"run": asdict(cfg), "stages": [asdict(s) for s in recipe(cfg.method, cfg.recipe)]}
    stored = json.loads(json.dumps(base | {"data_sha256": data_fingerprints(cfg)}))
    legacy = json.loads(json.dumps(base))
    assert stored["data_sha256"]["augmented"] is None and len(stored["data_sha256"]["train"]) == 64
    assert same_training(stored, cfg) and same_training(legacy, cfg)
    (tmp_path / "t.jsonl").write_text('{"text": "a", "label": "Absorption"}\n')
    assert not same_training(stored, cfg)
    assert same_training(legacy, cfg)
