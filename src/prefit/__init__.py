"""prefit: pre-finetuning with data augmentation for class-imbalanced text classification.

    import prefit
    clf = prefit.Classifier.load("run")          # a training run, an ONNX export or a peer
    clf.predict(["Metformin is excreted unchanged in the urine."])

The API (prefit/api.py) is imported on first use, so `import prefit` stays light:
  Classifier, TrainResult, train, augment, export, score_labels, score_texts, InputError.
"""

__version__ = "0.1.0"

from prefit.errors import InputError  # noqa: E402  (light: no heavy imports)

_API = ("Classifier", "TrainResult", "train", "augment", "export", "score_labels", "score_texts")
__all__ = ["InputError", "__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from prefit import api

        return getattr(api, name)
    raise AttributeError(f"module 'prefit' has no attribute {name!r}")
