"""Training: stages as data, imbalance losses, SAM, evaluation."""
