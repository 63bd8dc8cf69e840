"""Scoring stage: SPL labels or records to predictions, resumable by chunks, on one machine or
Ray (job.py). The API functions are `prefit.score_labels` and `prefit.score_texts`."""
