"""The report of a sweep: per task and variant the metric over seeds, and each variant against the baseline.

Written as SWEEP/results.json, SWEEP/results.md (the Markdown also goes to stdout) and SWEEP/results.png.
"""

import math
import os
from pathlib import Path
from typing import Any

import srsly

from ..errors import Errors, RecipeError
from ..output.layout import temp_path
from .run import RESULTS_FILE, SWEEP_FILE, read_results
from .stats import ALPHA, Comparison, decide, paired, summarise

RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
RESULTS_PNG = "results.png"


def build_report(sweep: Path, baseline: str | None = None, quality_of: str | None = None) -> dict[str, Any]:
    """The report's numbers, from SWEEP/sweep.json and the finished trials in SWEEP/trials.jsonl.

    quality_of: a variant whose mean best dev score is the quality each trial's time to quality is measured
        against (the seconds until its dev score first reached it); None leaves time to quality out.
    """
    sweep = Path(sweep)
    rows = read_results(sweep)
    if not rows:
        raise RecipeError(Errors.E088.format(sweep=sweep, file=RESULTS_FILE))
    meta = srsly.read_json(sweep / SWEEP_FILE) if (sweep / SWEEP_FILE).is_file() else {}
    tasks = list(meta.get("tasks") or dict.fromkeys(row["task"] for row in rows))
    variants = list(meta.get("variants") or dict.fromkeys(row["variant"] for row in rows))
    baseline = baseline or meta.get("baseline") or variants[0]
    if baseline not in variants:
        raise RecipeError(Errors.E081.format(path=sweep / SWEEP_FILE, key="baseline", error=f"no variant {baseline!r}"))
    finished = {row["id"] for row in rows}
    report: dict[str, Any] = {
        "metric": meta.get("metric", rows[0]["metric"]),
        "baseline": baseline,
        "alpha": ALPHA,
        "tasks": {},
        "unfinished": [trial for trial in meta.get("trials", []) if trial not in finished],
        "quality_of": quality_of,
    }
    if quality_of is not None and quality_of not in variants:
        raise RecipeError(
            Errors.E081.format(path=sweep / SWEEP_FILE, key="quality_of", error=f"no variant {quality_of!r}")
        )
    for task in tasks:
        task_rows = [row for row in rows if row["task"] == task]
        by_variant = {v: {row["seed"]: row for row in task_rows if row["variant"] == v} for v in variants}
        entry: dict[str, Any] = {"component": meta.get("tasks", {}).get(task), "variants": {}, "comparisons": {}}
        for variant, seeds in by_variant.items():
            if not seeds:
                continue
            summary = summarise([row["test_score"] for row in seeds.values()])
            entry["variants"][variant] = {
                "n": summary.n,
                "mean": summary.mean,
                "sd": summary.sd,
                "values": {str(seed): row["test_score"] for seed, row in sorted(seeds.items())},
                "best_dev_mean": _mean(row["best_dev"] for row in seeds.values()),
                "best_epoch_mean": _mean(row["best_epoch"] for row in seeds.values()),
                "seconds_to_best_mean": _mean(row["seconds_to_best"] for row in seeds.values()),
                "words_per_second_mean": _mean(row["words_per_second"] for row in seeds.values()),
            }
        if quality_of is not None and by_variant.get(quality_of):
            target = _mean(row["best_dev"] for row in by_variant[quality_of].values())
            entry["quality"] = target
            for variant, seeds in by_variant.items():
                if variant in entry["variants"]:
                    times = [time_to(row.get("curve", []), target) for row in seeds.values()]
                    reached = [t for t in times if t is not None]
                    entry["variants"][variant]["seconds_to_quality_mean"] = _mean(reached) if reached else None
                    entry["variants"][variant]["reached_quality"] = len(reached)
        base = {seed: row["test_score"] for seed, row in by_variant.get(baseline, {}).items()}
        compared: dict[str, Comparison] = {}
        for variant, seeds in by_variant.items():
            if variant != baseline and seeds and base:
                compared[variant] = paired({seed: row["test_score"] for seed, row in seeds.items()}, base)
        decide(list(compared.values()))
        entry["comparisons"] = {variant: vars(comparison) for variant, comparison in compared.items()}
        report["tasks"][task] = entry
    return report


def time_to(curve: list[list[float]], quality: float) -> float | None:
    """The seconds until the first epoch whose dev score reached quality ([epoch, score, seconds] rows)."""
    for _, score, seconds in curve:
        if score >= quality - 1e-12:
            return seconds
    return None


def _mean(values: Any) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else math.nan


def markdown(report: dict[str, Any]) -> str:
    metric, baseline = report["metric"], report["baseline"]
    lines = [f"# Sweep results: test {metric}, each variant against {baseline}", ""]
    lines.append(
        f"Mean ± sample sd over seeds; Δ: the mean paired difference to {baseline} with its 95% t-interval, "
        f"unadjusted (each comparison on its own); p: the paired t-test, Holm-corrected across the variants of a "
        f"task. Verdict: better (worse) only when every seed's difference is above (below) 0 and the corrected "
        f"p < {report['alpha']}: with several variants an unadjusted interval can exclude 0 where the verdict is "
        f"no clear difference."
    )
    quality_of = report.get("quality_of")
    if quality_of:
        lines.append("")
        lines.append(
            f"Time to quality: the mean seconds (training and checkpoints) until a trial's dev score first reached "
            f"{quality_of}'s mean best dev score, over the seeds that reached it (how many, in brackets)."
        )
    for task, entry in report["tasks"].items():
        lines += ["", f"## {task}" + (f" ({entry['component']})" if entry.get("component") else ""), ""]
        if "quality" in entry:
            lines += [f"Quality: dev {entry['quality']:.4f} ({quality_of}'s mean best)", ""]
        quality = " s to quality |" if "quality" in entry else ""
        lines.append(f"| variant | {metric} | n | per seed | Δ vs {baseline} [95% CI, unadjusted] | p (Holm) | verdict "
                     f"| best epoch | s to best |{quality} words/s |")  # fmt: skip
        lines.append("|---|---|---|---|---|---|---|---|---|" + ("---|" if quality else "") + "---|")
        for variant, v in entry["variants"].items():
            sd = f" ± {v['sd']:.4f}" if v["sd"] is not None else ""
            seeds = ", ".join(f"{value:.4f}" for value in v["values"].values())
            c = entry["comparisons"].get(variant)
            if c is None:
                delta, p, verdict = "(baseline)" if variant == baseline else "", "", ""
            else:
                interval = f" [{c['low']:+.4f}, {c['high']:+.4f}]" if c["low"] is not None else ""
                delta = f"{c['mean']:+.4f}{interval}"
                p = f"{c['p_holm']:.3g}" if c["p_holm"] is not None else ""
                verdict = c["verdict"]
            to_quality = ""
            if "quality" in entry:
                mean = v.get("seconds_to_quality_mean")
                to_quality = (
                    f" {mean:.0f} ({v['reached_quality']}/{v['n']}) |" if mean is not None else f" — (0/{v['n']}) |"
                )
            lines.append(
                f"| {variant} | {v['mean']:.4f}{sd} | {v['n']} | {seeds} | {delta} | {p} | {verdict} "
                f"| {v['best_epoch_mean']:.1f} | {v['seconds_to_best_mean']:.0f} |{to_quality} "
                f"{v['words_per_second_mean']:,.0f} |"
            )
    if report["unfinished"]:
        lines += ["", f"Not finished yet ({len(report['unfinished'])}): {', '.join(report['unfinished'])}"]
    return "\n".join(lines) + "\n"


def write_report(sweep: Path, report: dict[str, Any]) -> str:
    """Write results.json, results.md and results.png in SWEEP; RETURNS the Markdown."""
    text = markdown(report)
    _replace(Path(sweep) / RESULTS_JSON, srsly.json_dumps(report, indent=2) + "\n")
    _replace(Path(sweep) / RESULTS_MD, text)
    plot(report, Path(sweep) / RESULTS_PNG)
    return text


def _replace(path: Path, text: str) -> None:
    tmp = temp_path(path)
    tmp.write_text(text, encoding="utf8")
    os.replace(tmp, path)


def plot(report: dict[str, Any], path: Path) -> None:
    """Per task, each variant's seeds as dots, with their mean and its 95% t-interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    tasks = list(report["tasks"].items())
    width = max(4.0, 1.1 * max(len(entry["variants"]) for _, entry in tasks) + 1.5)
    fig, axes = plt.subplots(len(tasks), 1, figsize=(width, 3.2 * len(tasks)), squeeze=False)
    for ax, (task, entry) in zip(axes[:, 0], tasks, strict=True):
        names = list(entry["variants"])
        for x, name in enumerate(names):
            v = entry["variants"][name]
            values = list(v["values"].values())
            ax.scatter([x] * len(values), values, s=18, color="tab:blue", alpha=0.7, zorder=3)
            half = stats.t.ppf(0.975, v["n"] - 1) * v["sd"] / math.sqrt(v["n"]) if v["sd"] is not None else 0.0
            ax.errorbar([x + 0.15], [v["mean"]], yerr=[[half], [half]], fmt="o", color="black", capsize=4, zorder=4)
        verdicts = entry["comparisons"]
        labels = [name + (f"\n{verdicts[name]['verdict']}" if name in verdicts else "\n(baseline)") for name in names]
        ax.set_xticks(range(len(names)), labels, fontsize=8)
        ax.set_title(f"{task}: test {report['metric']}", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    tmp = path.parent / f".{path.name}.tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
