"""The repository's scripts, run as modules from its root: `python -m scripts.benchmarks.speed` (scripts/README.md)."""
