"""Training: stages as data, imbalance losses, SAM, evaluation. `prefit.train(...)` is prefit.api.train."""

from prefit._callable import callable_package

callable_package(__name__, "train")
