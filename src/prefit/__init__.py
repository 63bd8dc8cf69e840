"""prefit: pre-finetuning with data augmentation for class-imbalanced text classification.

Sub-packages, one per pipeline stage:
  prefit.augment    back-translation (CTranslate2) and EDA (nlpaug), class balancing
  prefit.train      two-stage trainer, imbalance baselines, evaluation
  prefit.export     ONNX export with parity checks
  prefit.serve_cli  DailyMed SPL parsing and batch scoring with onnxruntime
"""

__version__ = "0.1.0"

from prefit.errors import InputError  # noqa: E402  (light: no heavy imports)

__all__ = ["InputError", "__version__"]
