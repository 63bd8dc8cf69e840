"""Augmentation: CTranslate2 back-translation, EDA through nlpaug, class-balancing plans,
and imbalanced benchmark sets. Import the concrete modules; this package imports nothing heavy.
`prefit.augment(...)` is prefit.api.augment."""

from prefit._callable import callable_package
from prefit.augment.balance import BalancePolicy, plan_class_targets, plan_sources

callable_package(__name__, "augment")

__all__ = ["BalancePolicy", "plan_class_targets", "plan_sources"]
