"""prefit's console logging: prefit's own messages on stderr (nothing but errors with -q), the
run logs complete either way, third-party libraries quiet unless -v."""

from __future__ import annotations

import logging
import sys


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (click's test runner and notebooks swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Console gets INFO (ERROR with --quiet); the logger itself stays at INFO so that run logs
    (train.log) are complete either way. Third-party libraries speak only with --verbose."""
    logger = logging.getLogger("prefit")
    console = [h for h in logger.handlers if getattr(h, "_prefit_console", False)]
    if not console:
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(message)s"))
        h._prefit_console = True
        logger.addHandler(h)
        console = [h]
    console[0].setLevel(logging.ERROR if quiet else logging.INFO)  # -q: nothing but errors
    logger.setLevel(logging.INFO)
    logger.propagate = False
    _THIRD_PARTY["quiet"] = not verbose
    if not verbose:
        quiet_third_party()


_THIRD_PARTY = {"quiet": True}


def third_party_quiet() -> bool:
    """False after setup_logging(verbose=True): libraries imported later (Ray) may speak."""
    return _THIRD_PARTY["quiet"]


def quiet_third_party() -> None:
    """transformers' load reports and "Loading weights" bars, onnxruntime's and other libraries'
    warnings are noise to a prefit user: errors only (prefit's own warnings still show)."""
    import os
    import sys
    import warnings

    if "transformers" in sys.modules:
        import transformers.utils.logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    else:  # importing transformers takes seconds: a command that never loads it (score --extract-only) must not pay for it
        for k, v in (("TRANSFORMERS_VERBOSITY", "error"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1")):
            os.environ.setdefault(k, v)  # read by transformers and huggingface_hub when they are imported
    logging.getLogger().setLevel(logging.ERROR)  # libraries that log through the root logger (onnxruntime.quantization)
    for name in ("onnxruntime", "onnx", "torch", "huggingface_hub", "sentence_transformers", "nlpaug", "filelock", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"(torch|transformers|onnx|onnxruntime|sklearn|huggingface_hub)(\.|$)")
