"""Augmentation stage: back-translation (CTranslate2 and Bergamot engines), EDA, class balancing,
corpus reports, as resumable jobs (job.py). The API function is `prefit.augment`."""
