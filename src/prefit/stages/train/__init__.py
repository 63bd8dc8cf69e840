"""Training stage: recipes as data, imbalance losses, SAM, peers, evaluation, grouped CV.
The API function is `prefit.train`."""
