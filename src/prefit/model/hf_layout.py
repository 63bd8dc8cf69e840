"""A run's model folder (RUN/model) as other tools read it.

The folder is a transformers checkpoint (config.json, weights, tokenizer) plus prefit's
label_map.json, and also a sentence-transformers model whose output is the classifier's logits:
modules.json -> Transformer -> Pooling (the run's pooling) -> Dense layers holding the head
(BERT: [pooler dense + tanh when the pooling is cls] -> classifier; RoBERTa-style heads: dense +
tanh -> out_proj). So `SentenceTransformer("RUN/model").encode(texts).argmax(1)` gives prefit's
labels (for the first max_length tokens of a text, without a TF-IDF blend; README.md in the
folder says so).

transformers' `AutoModelForSequenceClassification` computes [CLS] through the pooler. A run with
mean pooling (the default encoder's) would load there without a word and predict something else,
so its weights are saved as the variant "prefit" (model.prefit.safetensors): transformers then
refuses the folder ("no file named model.safetensors"), while prefit and sentence-transformers
(sentence_bert_config.json passes the variant) load it. A run with cls pooling keeps
model.safetensors: transformers computes the same logits.
"""

from __future__ import annotations

import json
from pathlib import Path

VARIANT = "prefit"
VARIANT_WEIGHTS = f"model.{VARIANT}.safetensors"
_TANH, _IDENTITY = "torch.nn.modules.activation.Tanh", "torch.nn.modules.linear.Identity"


def weights_variant(model_dir: str | Path) -> str | None:
    """The `variant` to pass to from_pretrained for this folder: "prefit" for mean-pooled runs."""
    return VARIANT if (Path(model_dir) / VARIANT_WEIGHTS).exists() else None


def _head_layers(model, pooling: str) -> list[tuple[object, str]] | None:
    """The head as (nn.Linear, activation) layers after pooling, or None for a head prefit does not know."""
    from prefit.model.pooling import head_kind

    kind = head_kind(model)
    if kind == "pooler":
        layers = [(model.classifier, _IDENTITY)]
        if pooling == "cls":
            pooler = getattr(model.base_model, "pooler", None)
            if pooler is None:
                return None
            layers.insert(0, (pooler.dense, _TANH))
        return layers
    if kind == "sequence":
        return [(model.classifier.dense, _TANH), (model.classifier.out_proj, _IDENTITY)]
    return None


def save_model_folder(model, tokenizer, model_dir: Path, *, pooling: str, max_length: int, labels: list[str]) -> None:
    """Write the transformers checkpoint (the variant for mean pooling), the tokenizer and, for a
    head prefit knows, the sentence-transformers modules and the folder's README.md."""
    from safetensors.torch import save_file

    model_dir = Path(model_dir)
    variant = VARIANT if pooling == "mean" else None
    for stale in (model_dir / "model.safetensors", model_dir / VARIANT_WEIGHTS):
        stale.unlink(missing_ok=True)
    model.save_pretrained(model_dir, variant=variant)
    tokenizer.save_pretrained(model_dir)
    layers = _head_layers(model, pooling)
    if layers is None:
        return
    hidden = model.config.hidden_size
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (model_dir / "1_Pooling").mkdir(exist_ok=True)
    (model_dir / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": hidden, "pooling_mode_cls_token": pooling == "cls", "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, indent=2))
    for i, (linear, activation) in enumerate(layers, start=2):
        d = model_dir / f"{i}_Dense"
        d.mkdir(exist_ok=True)
        (d / "config.json").write_text(json.dumps({"in_features": linear.in_features, "out_features": linear.out_features,
                                                   "bias": linear.bias is not None, "activation_function": activation}, indent=2))
        tensors = {"linear.weight": linear.weight.detach().cpu().contiguous()}
        if linear.bias is not None:
            tensors["linear.bias"] = linear.bias.detach().cpu().contiguous()
        save_file(tensors, str(d / "model.safetensors"))
        modules.append({"idx": i, "name": str(i), "path": f"{i}_Dense", "type": "sentence_transformers.models.Dense"})
    (model_dir / "modules.json").write_text(json.dumps(modules, indent=2))
    sbert = {"max_seq_length": max_length, "do_lower_case": False}
    if variant:
        sbert["model_args"] = {"variant": variant}
    (model_dir / "sentence_bert_config.json").write_text(json.dumps(sbert, indent=2))
    (model_dir / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {}, "default_prompt_name": None}, indent=2))
    (model_dir / "README.md").write_text(_card(labels, pooling, max_length))


def _card(labels: list[str], pooling: str, max_length: int) -> str:
    refuse = ("The weights are saved as `model.prefit.safetensors` so that "
              "`AutoModelForSequenceClassification` refuses this folder: it would read [CLS] through BERT's pooler, "
              "while this model was trained on the mean of its tokens.") if pooling == "mean" else (
              "`AutoModelForSequenceClassification.from_pretrained(\"RUN/model\")` computes the same logits ([CLS] pooling).")
    return f"""# prefit text classifier

Labels (logit order): {", ".join(labels)}. Pooling: {pooling}. Trained at {max_length} tokens.

```python
import prefit
clf = prefit.Classifier.load("RUN")        # reads long texts as the run was evaluated, applies a TF-IDF blend if any
clf.predict(["..."])

from sentence_transformers import SentenceTransformer
logits = SentenceTransformer("RUN/model").encode(["..."])   # the classifier's logits, first {max_length} tokens
```

{refuse} `train export RUN -o EXPORT` writes an ONNX model that Optimum's
`ORTModelForSequenceClassification` loads.
"""
