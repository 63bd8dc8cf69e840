"""Augmentation: CTranslate2 back-translation, EDA through nlpaug, class-balancing plans,
and imbalanced benchmark sets. Import the concrete modules; this package imports nothing heavy."""

from prefit.augment.balance import BalancePolicy, plan_class_targets, plan_sources

__all__ = ["BalancePolicy", "plan_class_targets", "plan_sources"]
