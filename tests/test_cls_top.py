"""The [CLS]-only top layer gives the model's own logits and gradients; unknown models fall back."""

import pytest
import torch

from prefit.model.cls_top import classify, supports


def _batch(vocab: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (4, 11), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0  # padded rows: the padding must be masked out of [CLS]'s attention
    mask[3, 3:] = 0
    ids[mask == 0] = 0
    return ids, mask


def _models():
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        RobertaConfig,
        RobertaForSequenceClassification,
    )

    common = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=48, num_labels=3)
    torch.manual_seed(0)
    bert = BertForSequenceClassification(BertConfig(vocab_size=100, **common))
    torch.manual_seed(0)
    roberta = RobertaForSequenceClassification(RobertaConfig(vocab_size=100, pad_token_id=1, max_position_embeddings=40, **common))
    return {"bert": bert, "roberta": roberta}


@pytest.mark.parametrize("name", ["bert", "roberta"])
def test_logits_and_gradients_equal_the_models_own_forward(name):
    model = _models()[name].eval()  # eval: dropout off, so both paths are deterministic
    assert supports(model)
    ids, mask = _batch(100)
    ref = model(input_ids=ids, attention_mask=mask).logits
    ref.pow(2).sum().backward()
    ref_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)

    got = classify(model, ids, mask)
    got.pow(2).sum().backward()
    assert torch.allclose(got, ref, atol=1e-5), (got - ref).abs().max()
    got_grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    # Same parameters receive gradients (the top layer's unused rows contribute nothing) ...
    assert set(got_grads) == set(ref_grads)
    for n, g in got_grads.items():
        assert torch.allclose(g, ref_grads[n], atol=1e-5, rtol=1e-4), n
    # ... and the top layer is restored after the call.
    assert len(model.base_model.encoder.layer) == 3


def test_padding_does_not_change_a_rows_logits():
    model = _models()["bert"].eval()
    ids, mask = _batch(100)
    with torch.no_grad():
        alone = classify(model, ids[3:4, :3], mask[3:4, :3])
        padded = classify(model, ids, mask)[3:4]
    assert torch.allclose(alone, padded, atol=1e-5)


def test_unsupported_models_use_their_own_forward():
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    torch.manual_seed(0)
    model = DistilBertForSequenceClassification(DistilBertConfig(vocab_size=100, dim=32, n_layers=2, n_heads=4, hidden_dim=48,
                                                                 num_labels=3)).eval()
    assert not supports(model)
    ids, mask = _batch(100)
    with torch.no_grad():
        assert torch.equal(classify(model, ids, mask), model(input_ids=ids, attention_mask=mask).logits)


def test_top_layer_restored_when_the_lower_layers_fail():
    model = _models()["bert"].eval()
    with pytest.raises(IndexError):
        classify(model, torch.tensor([[5, 1000]]), torch.ones(1, 2, dtype=torch.long))  # id beyond the vocabulary
    assert len(model.base_model.encoder.layer) == 3
