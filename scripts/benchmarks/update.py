"""The cost of one small update, per optimizer, side by side in one run: milliseconds per batch-1 `nlp.update` and
the share of it spent in the optimizer, early and late in training.

Tasks: the study's six (scripts/evidence/evidence.yml: WNUT17 and UNER ner, UD EWT tagger and parser, TweetEval
textcat, GoEmotions textcat_multilabel), on the training files `python -m scripts.evidence.data` makes in
evidence-data/, each with its packaged config (configs/<component>.cfg) as recipe-train builds it.

Optimizers, with the packaged settings (only the registered function differs): thinc's `Adam.v1` (the recipe's
dense step), `recipe.SparseAdam.v2` (the packaged default: only the touched rows of a table move, by their momentum's
whole effect), `recipe.LazyAdam.v1` (thinc's training, bit for bit) and `recipe.SparseAdam.v1` (rows without
gradient keep their weights and moments). Each has its own pipeline, initialised alike, and trains on the same
examples in the same order, one per update, with the config's dropout; the optimizers take turns of --turn updates,
so that a change in the machine's load falls on all of them.

Per task and optimizer: ms per update (median) over the first window of updates after --early (1,000) and the last
before --updates (10,000), their ratio (late / early: subnormal moments and any other growth show here), and the
optimizer's share of the updates' time (thinc's `Model.finish_update`, which calls the optimizer on every parameter,
over `nlp.update`). --profile adds cProfile's top functions by own time for each, over --window more updates
after the timed ones.

Usage: python -m scripts.benchmarks.update [--tasks wnut17,tweeteval] [--updates 10000] [--early 1000]
           [--optimizers Adam.v1,recipe.SparseAdam.v2] [--out bench-update.json] [--profile]
       python -m scripts.benchmarks.update --smoke   (the bundled slices in tests/data, 60 updates)
Prints a Markdown table; --out writes the numbers as JSON.
"""

import argparse
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

import yaml

from scripts.common import BUNDLED, REPO

OPTIMIZERS = ("Adam.v1", "recipe.SparseAdam.v2", "recipe.LazyAdam.v1", "recipe.SparseAdam.v1")
# --smoke: a slice per component, from tests/data.
SMOKE_TASKS = {
    "wnut17": ("ner", BUNDLED / "wnut17-train.conll"),
    "ewt-tagger": ("tagger", BUNDLED / "ewt-train.conllu"),
    "ewt-parser": ("parser", BUNDLED / "ewt-train.conllu"),
    "tweeteval": ("textcat", BUNDLED / "goemotions-train.json"),
    "goemotions": ("textcat_multilabel", BUNDLED / "goemotions-multilabel-train.json"),
}


def study_tasks() -> dict[str, tuple[str, Path]]:
    """The study's tasks: name -> (component, training file)."""
    base = REPO / "scripts" / "evidence"
    spec = yaml.safe_load((base / "evidence.yml").read_text())
    return {name: (task["component"], (base / task["train"]).resolve()) for name, task in spec["tasks"].items()}


class Run:
    """One optimizer's pipeline on one task, trained one example per update."""

    def __init__(self, component: str, train: Path, optimizer: str, seed: int = 0) -> None:
        from spacy.training import Example
        from thinc.api import fix_random_seed

        from recipe_cli.config.build import build_config
        from recipe_cli.data.formats import read_docs
        from recipe_cli.training.setup import create_pipeline, resolve_training

        # One example per update: the batcher is never drawn from, so its planned maximum size is left at the
        # packaged ner's (16) rather than counted from the data.
        overrides = {"training.optimizer.@optimizers": optimizer, "training.batcher.size.stop": 16}
        built = build_config([component], overrides=overrides)
        self.nlp, _ = create_pipeline(built.config)
        training = resolve_training(self.nlp.config)
        self.optimizer, self.dropout = training["optimizer"], training["dropout"]
        docs = list(read_docs(train, self.nlp))
        self.examples = [Example(self.nlp.make_doc(doc.text), doc) for doc in docs]
        random.Random(seed).shuffle(self.examples)
        fix_random_seed(seed)
        self.nlp.initialize(lambda: self.examples, sgd=self.optimizer)
        self.done = 0
        self.times: list[float] = []
        self.optimizer_times: list[float] = []

    def updates(self, n: int, profiler: cProfile.Profile | None = None) -> None:
        from thinc.model import Model

        spent = [0.0]
        finish_update = Model.finish_update

        def timed_finish_update(model, optimizer):
            start = time.perf_counter()
            finish_update(model, optimizer)
            spent[0] += time.perf_counter() - start

        Model.finish_update = timed_finish_update  # type: ignore[method-assign]
        try:
            losses: dict = {}
            for _ in range(n):
                example = self.examples[self.done % len(self.examples)]
                spent[0] = 0.0
                drop = next(self.dropout)
                if profiler is not None:
                    profiler.enable()
                start = time.perf_counter()
                self.nlp.update([example], drop=drop, sgd=self.optimizer, losses=losses)
                self.times.append(time.perf_counter() - start)
                if profiler is not None:
                    profiler.disable()
                self.optimizer_times.append(spent[0])
                self.done += 1
        finally:
            Model.finish_update = finish_update  # type: ignore[method-assign]


PACKAGES = ("recipe_cli", "spacy", "thinc", "numpy")


def by_package(stats: pstats.Stats) -> dict[str, float]:
    """The share of the profiled time spent in each package's own code (a function's time without its callees),
    by the file it is in; C functions (numpy's ufuncs, built-ins) count as "C"."""
    spent: dict[str, float] = {}
    for (path, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        package = next((p for p in PACKAGES if f"{p}/" in path or path.startswith(f"{p}/")), None)
        package = package or ("C" if path == "~" else "other")
        spent[package] = spent.get(package, 0.0) + own
    total = sum(spent.values())
    return {package: seconds / total for package, seconds in sorted(spent.items(), key=lambda kv: -kv[1])}


def window(values: list[float], start: int, size: int) -> list[float]:
    return values[start : start + size]


def measure(component: str, train: Path, args: argparse.Namespace) -> dict:
    runs = {name: Run(component, train, name) for name in args.optimizers}
    size = max(1, min(args.window, args.early))
    profiles = {name: cProfile.Profile() for name in runs} if args.profile else {}
    done = 0
    while done < args.updates:
        n = min(args.turn, args.updates - done)
        for run in runs.values():
            run.updates(n)
        done += n
    # Profiled apart, after the timed updates (the profiler's own cost would count in them).
    for name, profile in profiles.items():
        runs[name].updates(size, profile)
    result = {}
    for name, run in runs.items():
        early = window(run.times, args.early, size)
        late = window(run.times, args.updates - size, size)
        run.times, run.optimizer_times = run.times[: args.updates], run.optimizer_times[: args.updates]
        row = {
            "early_ms": 1000 * statistics.median(early),
            "late_ms": 1000 * statistics.median(late),
            "optimizer_share": sum(run.optimizer_times) / sum(run.times),
            "optimizer_share_late": sum(window(run.optimizer_times, args.updates - size, size)) / sum(late),
            "mean_ms": 1000 * statistics.mean(run.times),
        }
        row["late_over_early"] = row["late_ms"] / row["early_ms"]
        if name in profiles:
            out = io.StringIO()
            stats = pstats.Stats(profiles[name], stream=out)
            stats.sort_stats("tottime").print_stats(12)
            row["profile"] = out.getvalue()
            row["profile_by_package"] = by_package(stats)
        result[name] = row
    return result


def report(results: dict) -> str:
    lines = [
        "| task | optimizer | ms/update early | late | late/early | optimizer share | share late |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, rows in results["tasks"].items():
        for name, row in rows.items():
            lines.append(
                f"| {task} | {name} | {row['early_ms']:.2f} | {row['late_ms']:.2f} | {row['late_over_early']:.2f} "
                f"| {row['optimizer_share']:.0%} | {row['optimizer_share_late']:.0%} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="")
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--early", type=int, default=1_000)
    parser.add_argument("--window", type=int, default=200, help="updates in each timed window")
    parser.add_argument("--turn", type=int, default=250, help="updates each optimizer takes before the next")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    args.optimizers = [name for name in args.optimizers.split(",") if name]
    if args.smoke:
        tasks = SMOKE_TASKS
        args.updates, args.early, args.window, args.turn = 60, 20, 20, 20
    else:
        tasks = study_tasks()
        missing = [str(path) for _, path in tasks.values() if not path.exists()]
        if missing:
            print(f"Missing {missing[0]}: make the study's data first (python -m scripts.evidence.data)")
            return 1
    if args.tasks:
        tasks = {name: tasks[name] for name in args.tasks.split(",")}
    if args.updates < args.early + args.window:
        parser.error("--updates must exceed --early by at least --window")
    results: dict = {"settings": {k: v for k, v in vars(args).items() if k != "out"}, "tasks": {}}
    for name, (component, train) in tasks.items():
        print(f"{name}: {component}, {args.updates} updates ...", file=sys.stderr, flush=True)
        results["tasks"][name] = measure(component, train, args)
        for optimizer, row in results["tasks"][name].items():
            if "profile" in row:
                print(f"--- {name} {optimizer}\n{row['profile']}", file=sys.stderr)
    print(report(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
