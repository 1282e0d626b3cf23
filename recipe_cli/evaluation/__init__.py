"""Scoring pipelines with spaCy's scorer, with per-label tables."""
