"""The statistics of a sweep's report: each variant's seeds summarised, and each variant against the baseline by
paired per-seed differences, with a verdict by a fixed rule.

The rule, per task, for each variant against the baseline on the seeds both finished (n ≥ 2):
  "better"  every seed's difference is > 0, and the paired t-test's p-value, Holm-corrected across the variants
            compared on that task, is below 0.05 (the 95% t-interval of the mean difference excludes 0 at the
            corrected level);
  "worse"   the same with every difference < 0;
  else "no clear difference" (also when fewer than two seeds are paired).
The interval reported is the plain 95% t-interval of the mean difference, not adjusted for the several variants
of a task (the verdict's p-value is): the report says so beside it.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05
BETTER, WORSE, UNCLEAR = "better", "worse", "no clear difference"


@dataclass
class Summary:
    n: int
    mean: float
    sd: float | None  # sample standard deviation (n - 1); None for one value
    values: list[float]


@dataclass
class Comparison:
    n: int
    diffs: list[float]
    mean: float
    low: float | None  # the 95% t-interval of the mean difference; None below two pairs
    high: float | None
    p: float | None  # two-sided paired t-test
    p_holm: float | None
    verdict: str


def summarise(values: Sequence[float]) -> Summary:
    values = [float(v) for v in values]
    n = len(values)
    mean = sum(values) / n if n else math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return Summary(n, mean, sd, values)


def paired(variant: dict[int, float], baseline: dict[int, float]) -> Comparison:
    """variant − baseline on the seeds both have (seed → value each). The verdict waits for holm()."""
    seeds = sorted(set(variant) & set(baseline))
    diffs = [variant[s] - baseline[s] for s in seeds]
    n = len(diffs)
    mean = sum(diffs) / n if n else math.nan
    if n < 2:
        return Comparison(n, diffs, mean, None, None, None, None, UNCLEAR)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    if sd <= 1e-12 * max(1.0, abs(mean)):
        # Every seed moved by the same amount: no spread to test against (scipy gives nan).
        p = 1.0 if abs(mean) <= 1e-12 else 0.0
        return Comparison(n, diffs, mean, mean, mean, p, None, UNCLEAR)
    # Imported here, not with the module: scipy.stats takes over a second to import, and every `python -m
    # recipe_cli` process (each trial's trainer and evaluator among them) imports this module.
    from scipy import stats

    half = stats.t.ppf(1 - ALPHA / 2, n - 1) * sd / math.sqrt(n)
    p = float(stats.ttest_rel([variant[s] for s in seeds], [baseline[s] for s in seeds]).pvalue)
    return Comparison(n, diffs, mean, mean - half, mean + half, p, None, UNCLEAR)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of p-values (None stays None): the i-th smallest of m is multiplied by
    m - i, and no adjusted value is below an earlier one; capped at 1."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def decide(comparisons: Sequence[Comparison]) -> None:
    """Holm-correct the comparisons of one task and set each verdict by the rule above."""
    for comparison, p_holm in zip(comparisons, holm([c.p for c in comparisons]), strict=True):
        comparison.p_holm = p_holm
        if comparison.n < 2 or p_holm is None or p_holm >= ALPHA:
            comparison.verdict = UNCLEAR
        elif all(d > 0 for d in comparison.diffs):
            comparison.verdict = BETTER
        elif all(d < 0 for d in comparison.diffs):
            comparison.verdict = WORSE
        else:
            comparison.verdict = UNCLEAR
