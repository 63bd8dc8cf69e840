"""The top encoder layer, computed for the [CLS] position only.

A sequence classifier of the BERT family reads one position of the last layer: BERT's pooler and
RoBERTa's classification head both take position 0 ([CLS] / <s>). The last layer's other rows are
computed and thrown away. `classify` runs the layers below as usual, then the top layer with the
[CLS] row as its only query (keys and values still come from every token), so the top layer's
attention output projection and feed-forward block run on 1 row instead of T. The logits are the
same function of the weights; only the floating-point summation order differs (tests compare
logits and gradients against the model's own forward).

This matters most in pre-finetuning (Shi et al., 2022), where the top layer is the only encoder
layer that trains: the frozen layers below build no graph, and the trainable part shrinks to K/V
projections plus a one-row layer. Models it does not recognise run their own forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from prefit.model.pooling import head_kind, mean_pool, model_pooling


def supports(model: torch.nn.Module) -> bool:
    """True when `classify` can take the [CLS]-only path for this model (never with mean pooling,
    which reads every row of the top layer)."""
    kind = head_kind(model)
    if kind is None or model_pooling(model) != "cls":
        return False
    cfg = model.config
    base = model.base_model
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if not isinstance(layers, torch.nn.ModuleList) or len(layers) < 1:
        return False
    top = layers[-1]
    if getattr(cfg, "is_decoder", False) or getattr(cfg, "add_cross_attention", False):
        return False
    if getattr(cfg, "position_embedding_type", "absolute") not in (None, "absolute"):
        return False  # relative position terms would need the per-row position arithmetic
    if getattr(top, "chunk_size_feed_forward", 0):
        return False
    if kind == "pooler" and getattr(base, "pooler", None) is None:
        return False
    need = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
            "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm")
    have = dict(top.named_modules())
    return all(n in have for n in need)


def classify(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, cls_only: bool = True,
             **inputs: torch.Tensor) -> torch.Tensor:
    """Logits of a sequence classifier under the model's pooling (pooling.py); with [CLS] pooling
    the top layer runs for [CLS] only when the model allows it.
    `inputs`: further model inputs such as token_type_ids."""

    if model_pooling(model) == "mean":
        base = model.base_model
        hidden = base(input_ids=input_ids, attention_mask=attention_mask, **inputs).last_hidden_state
        pooled = mean_pool(hidden, attention_mask)
        if head_kind(model) == "pooler":  # BERT: the mean replaces pooler(CLS); dropout + linear as in its head
            return model.classifier(model.dropout(pooled))
        return model.classifier(pooled.unsqueeze(1))  # RoBERTa-style heads read row 0 of their input
    if not (cls_only and supports(model)):
        return model(input_ids=input_ids, attention_mask=attention_mask, **inputs).logits
    base = model.base_model
    layers = base.encoder.layer
    top = layers[-1]
    # Run the model's own embeddings, mask handling and lower layers by hiding the top layer.
    base.encoder.layer = layers[:-1]
    try:
        hidden = base(input_ids=input_ids, attention_mask=attention_mask, **inputs).last_hidden_state
    finally:
        base.encoder.layer = layers
    cls = top_layer_cls(top, hidden, attention_mask)
    if head_kind(model) == "pooler":
        return model.classifier(model.dropout(base.pooler(cls)))
    return model.classifier(cls)


def top_layer_cls(layer: torch.nn.Module, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """One post-LayerNorm transformer layer (BertLayer layout) evaluated at position 0 only.
    hidden: (B, T, d) input of the layer; returns (B, 1, d)."""
    att = layer.attention.self
    b, t, _ = hidden.shape
    heads = att.num_attention_heads
    hd = att.attention_head_size

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.view(b, x.shape[1], heads, hd).transpose(1, 2)

    first = hidden[:, :1]
    q, k, v = split(att.query(first)), split(att.key(hidden)), split(att.value(hidden))
    keep = attention_mask[:, None, None, :].to(torch.bool)  # (B, 1, 1, T): attend to real tokens
    p = att.dropout.p if layer.training else 0.0
    ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=p)
    ctx = ctx.transpose(1, 2).reshape(b, 1, heads * hd)
    out = layer.attention.output
    a = out.LayerNorm(out.dropout(out.dense(ctx)) + first)
    ffn = layer.output
    return ffn.LayerNorm(ffn.dropout(ffn.dense(layer.intermediate(a))) + a)
