"""The optimizer study's page: docs/evidence-optimizer.md (and its raw rows), from a run of
scripts/evidence/evidence-optimizer.yml.

Reads the study's folder (what `recipe-sweep run scripts/evidence/evidence-optimizer.yml -o evidence-optimizer`
wrote, finished or not) and writes:
  - the decision: recipe.SparseAdam.v1 (variant sparse-adam) against thinc's Adam.v1 (default), task by task, in
    test score by the sweep's paired rule (better / worse only when every seed's difference is on one side of 0 and
    the Holm-corrected paired t-test gives p < 0.05), and in words per second and seconds to quality by the same
    rule (faster is better); it becomes the default only when every task has finished and none is worse in score;
  - the goal: each optimizer against spaCy's own settings (spacy-default): words per second and seconds until the
    dev score first reaches spacy-default's mean best dev score, as ratios of the means;
  - the report `recipe-sweep report evidence-optimizer --quality-of spacy-default` prints;
  - the rows of SWEEP/trials.jsonl, copied beside the page (docs/evidence-optimizer/trials.jsonl);
  - SWEEP/NOTES.md, where the study's folder has one (what the rows cannot say: where and how the trials ran).

Usage: python -m scripts.evidence.optimizer [--sweep evidence-optimizer] [--out docs]
       python -m scripts.evidence.optimizer --smoke   (a made-up finished study, no training; a temporary folder)
"""

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

from recipe_cli.sweep.report import build_report, markdown, time_to
from recipe_cli.sweep.stats import decide, paired
from scripts.common import REPO

BASELINE, SPACY = "default", "spacy-default"
# Each candidate with its registered optimizer.
CANDIDATES = {"sparse-adam": "recipe.SparseAdam.v1", "sparse-adam-v2": "recipe.SparseAdam.v2"}
PAGE = "evidence-optimizer.md"


def per_seed(sweep: Path, report: dict) -> dict:
    """task -> variant -> seed -> {"wps": words/second, "quality": seconds to quality or None}."""
    rows = [json.loads(line) for line in (sweep / "trials.jsonl").read_text().splitlines() if line.strip()]
    found: dict = {}
    for row in rows:
        quality = report["tasks"].get(row["task"], {}).get("quality")
        seconds = time_to(row.get("curve", []), quality) if quality is not None else None
        found.setdefault(row["task"], {}).setdefault(row["variant"], {})[row["seed"]] = {
            "wps": row["words_per_second"],
            "quality": seconds,
        }
    return found


def verdicts(seeds: dict, candidate: str) -> dict:
    """The candidate against the baseline in words/second and in seconds to quality (negated: faster is
    better), seed against seed, by the sweep's rule."""
    base, cand = seeds.get(BASELINE, {}), seeds.get(candidate, {})
    wps = paired({s: v["wps"] for s, v in cand.items()}, {s: v["wps"] for s, v in base.items()})
    both = [s for s in set(base) & set(cand) if base[s]["quality"] is not None and cand[s]["quality"] is not None]
    quality = paired({s: -cand[s]["quality"] for s in both}, {s: -base[s]["quality"] for s in both})
    decide([wps])
    decide([quality])
    return {"wps": wps, "quality": quality}


def seconds(value: float | None) -> str:
    return f"{value:.0f}" if value else "—"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "—"


def decision(report: dict, seeds: dict, candidate: str, optimizer: str) -> list[str]:
    """The candidate against the baseline, task by task, and what RECIPE.md §8 makes of it."""
    lines = [
        f"### {candidate} (`{optimizer}`)",
        "",
        f"| task | test score vs default | Δ [95% CI, unadjusted] | words/s: default → {candidate} | verdict "
        f"| s to quality: default → {candidate} (seeds) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    worse, finished = [], not report["unfinished"]
    for task, entry in report["tasks"].items():
        comparison = entry["comparisons"].get(candidate)
        variants = entry["variants"]
        if comparison is None or BASELINE not in variants:
            lines.append(f"| {task} | not run yet | | | | | |")
            finished = False
            continue
        if comparison["verdict"] == "worse":
            worse.append(task)
        v = verdicts(seeds.get(task, {}), candidate)
        base, cand = variants[BASELINE], variants[candidate]
        q_base, q_cand = base.get("seconds_to_quality_mean"), cand.get("seconds_to_quality_mean")
        q_text = f"{seconds(q_base)} → {seconds(q_cand)}"
        speedup = ratio(cand["words_per_second_mean"], base["words_per_second_mean"])
        interval = (
            f"[{comparison['low']:+.4f}, {comparison['high']:+.4f}]" if comparison["low"] is not None else "(n < 2)"
        )
        lines.append(
            f"| {task} | {comparison['verdict']} | {comparison['mean']:+.4f} {interval} "
            f"| {base['words_per_second_mean']:,.0f} → "
            f"{cand['words_per_second_mean']:,.0f} ({speedup}x) | {v['wps'].verdict} "
            f"| {q_text} ({base.get('reached_quality', 0)}/{cand.get('reached_quality', 0)}, "
            f"{v['quality'].n} paired) | {v['quality'].verdict} |"
        )
    lines.append("")
    if worse:
        lines.append(f"**{candidate} stays an option**: worse in test score on {', '.join(worse)}.")
    elif not finished:
        lines.append(f"{candidate}: not decided, the study has not finished every task.")
    else:
        lines.append(
            f"**{candidate} may become the default**: worse in test score on no task. It is a change of speed, not "
            "of quality: the table says where it is faster, seed against seed."
        )
    return lines + [""]


def page(report: dict, seeds: dict, notes: str = "") -> str:
    """The page; notes: what the rows cannot say (SWEEP/NOTES.md: where and how the trials ran)."""
    lines = ["# Evidence: the sparse optimizers against thinc's Adam", ""]
    lines.append(
        "The study: [`scripts/evidence/evidence-optimizer.yml`](../scripts/evidence/evidence-optimizer.yml), "
        "the six tasks of [the 3-hour study](evidence-3h.md) with their data and epochs, each trained from its packaged config with "
        "thinc's `Adam.v1` (*default*), with `recipe.SparseAdam.v1` (*sparse-adam*: the same settings; a table's "
        "rows without gradient keep their weights and moments), with `recipe.SparseAdam.v2` (*sparse-adam-v2*: "
        "the same, a touched row moved by its momentum's whole effect at once, the updates a row missed caught up "
        "in closed form), and with spaCy's own training settings "
        "(*spacy-default*), 5 paired seeds each, scored on the test split (model-best). `recipe.LazyAdam.v1` needs "
        "no row: it trains as `Adam.v1` does, bit for bit (`tests/test_optimizer.py`)."
    )
    unfinished = report["unfinished"]
    lines += [
        "",
        f"Status: {'every trial finished' if not unfinished else f'{len(unfinished)} trials not run yet'}.",
        "",
    ]
    if notes:
        lines += [notes.strip(), ""]
    lines += ["## The decision (RECIPE.md §8)", ""]
    for candidate, optimizer in CANDIDATES.items():
        lines += decision(report, seeds, candidate, optimizer)
    names = [BASELINE, *CANDIDATES]
    lines += [
        "",
        "## The goal: against spaCy's own settings",
        "",
        "Ratios of the means over seeds: words/second (higher is faster) and seconds to quality (spacy-default's mean "
        "best dev score; lower is faster; only over the seeds that reached it).",
        "",
        "| task | words/s: "
        + " | ".join(f"{n} / spacy" for n in names)
        + " | s to quality: "
        + " | ".join(f"{n} / spacy" for n in names)
        + " |",
        "|---|" + "---|" * (2 * len(names)),
    ]
    for task, entry in report["tasks"].items():
        variants = entry["variants"]
        if SPACY not in variants or BASELINE not in variants:
            continue
        spacy = variants[SPACY]
        cells = [
            ratio(variants[name].get(key), spacy.get(key)) if name in variants else "—"
            for key in ("words_per_second_mean", "seconds_to_quality_mean")
            for name in names
        ]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    # The sweep's own report, its headings two levels down.
    report_lines = ["##" + line if line.startswith("#") else line for line in markdown(report).splitlines()[1:]]
    lines += ["", "## The sweep's report", *report_lines]
    lines += [
        "",
        "## Reproduce",
        "",
        "```sh",
        "python -m scripts.evidence.data                 # the study's data, from ../shared/data",
        "recipe-sweep run scripts/evidence/evidence-optimizer.yml -o evidence-optimizer --jobs 1",
        "python -m scripts.evidence.optimizer --sweep evidence-optimizer   # this page",
        "```",
        "",
        "The raw rows (one per trial: scores, per-epoch curves with seconds, config fingerprint): "
        "[evidence-optimizer/trials.jsonl](evidence-optimizer/trials.jsonl).",
        "",
    ]
    return "\n".join(lines)


def smoke_sweep(folder: Path) -> Path:
    """A finished made-up study of two tasks (random scores and curves), in the sweep's own files."""
    rng = random.Random(0)
    tasks = {"a": "ner", "b": "textcat"}
    variants = {BASELINE: {}, **{name: {} for name in CANDIDATES}, SPACY: {}}
    rows, ids = [], []
    for task in tasks:
        for variant in variants:
            for seed in range(1, 6):
                trial = f"{task}/{variant}/seed-{seed}"
                ids.append(trial)
                curve = [[e, 0.5 + 0.05 * e + rng.random() / 20, 10.0 * e * (0.5 if variant in CANDIDATES else 1)]
                         for e in range(1, 5)]  # fmt: skip
                rows.append({"id": trial, "task": task, "variant": variant, "seed": seed, "metric": "score",
                             "test_score": curve[-1][1] - 0.1, "best_dev": max(c[1] for c in curve), "best_epoch": 4,
                             "seconds_to_best": curve[-1][2], "words_per_second": 1000.0 / curve[0][2] * 10,
                             "curve": curve})  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"metric": "score", "baseline": BASELINE, "tasks": tasks, "variants": variants, "trials": ids}
    (folder / "sweep.json").write_text(json.dumps(meta))
    (folder / "trials.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", type=Path, default=REPO / "evidence-optimizer", help="the study's folder")
    parser.add_argument("--out", type=Path, default=None, help="default: docs (--smoke: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="a made-up finished study, no training")
    args = parser.parse_args()
    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="evidence-optimizer-smoke-"))
        args.sweep = smoke_sweep(args.out / "sweep")
    elif not (args.sweep / "trials.jsonl").is_file():
        print(
            f"No study in {args.sweep}: run recipe-sweep run scripts/evidence/evidence-optimizer.yml -o {args.sweep} first"
        )
        return 1
    out = args.out or REPO / "docs"
    report = build_report(args.sweep, quality_of=SPACY)
    notes = args.sweep / "NOTES.md"
    text = page(report, per_seed(args.sweep, report), notes.read_text(encoding="utf8") if notes.is_file() else "")
    (out / "evidence-optimizer").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.sweep / "trials.jsonl", out / "evidence-optimizer" / "trials.jsonl")
    (out / PAGE).write_text(text, encoding="utf8")
    print(f"Wrote {out / PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
