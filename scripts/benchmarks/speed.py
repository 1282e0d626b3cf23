"""recipe-train against `spacy train` and a bare nlp.update loop, side by side, in one run.

Tasks (full sets from ../shared/data, read by recipe-train's own readers):
  WNUT17 ner, UD English EWT tagger, TweetEval emotion textcat; and a task neither the evidence study nor the
  tests train (so that the speed is not tuned to their files): the morphologizer on sentences 5,001-8,500 of UD
  EWT's training file (2,000 to train, 500 dev, 1,000 test), which the study's data (its first 3,000 at most) and
  the tests' slices leave out.

For each task:
  * `spacy train` with spaCy's default efficiency config and `recipe-train` with its packaged
    config, the same number of epochs, seed 0, each in its own process: wall time, training
    words/second, peak RSS, best dev score, test score of model-best (ratios recipe / spaCy), and the seconds
    from the command's start to spaCy's best dev score (spaCy: its first evaluation with it; recipe-train: its
    first epoch scoring as much), from every evaluation's end time;
  * (WNUT17) the recipe's loop against a bare nlp.update loop over the very same batches,
    interleaved and repeated: the loop's overhead ratio;
  * start-up: seconds from the command's start to its first update (imports, config, reading and counting
    the data, initialize), with recipe-train's phases timed apart;
  * bookkeeping: everything besides the updates (evaluation, saving, training state, training.png, loggers)
    as a share of each epoch, from metrics.jsonl; for spacy train, its evaluation and saving as a share of
    its training loop (it evaluates every 200 steps, not every epoch).

Usage: python -m scripts.benchmarks.speed [--tasks ner,tagger,textcat,morphologizer] [--epochs-scale 1.0]
           [--out bench-out] [--recipe-args "--training.optimizer.@optimizers recipe.SparseAdam.v1"]
       python -m scripts.benchmarks.speed --smoke   (the bundled slices in tests/data, one epoch, a temporary folder)
Writes OUT/results.json and prints a Markdown table. Words/second is training words over the wall time of
the whole command (start-up included), the same definition on both sides; recipe-train's training
words/second (words over the seconds of its updates) is reported beside it.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.common import BUNDLED, REPO, SHARED, TASKS, machine, measure, prepare_data

SMOKE_DOCS = 60

# --smoke: the same tasks on the bundled slices (dev doubles as test). TweetEval's layout is written from the
# GoEmotions slice, so its reader runs too.
SMOKE_TASKS = {
    "ner": {**TASKS["ner"], "train": BUNDLED / "wnut17-train.conll", "dev": BUNDLED / "wnut17-dev.conll",
            "test": BUNDLED / "wnut17-dev.conll"},
    "tagger": {**TASKS["tagger"], "train": BUNDLED / "ewt-train.conllu", "dev": BUNDLED / "ewt-dev.conllu",
               "test": BUNDLED / "ewt-dev.conllu"},
    "textcat": {**TASKS["textcat"], "train": "train", "dev": "val", "test": "val"},
    "morphologizer": {**TASKS["morphologizer"], "train": BUNDLED / "ewt-train.conllu",
                      "dev": BUNDLED / "ewt-dev.conllu", "test": BUNDLED / "ewt-dev.conllu", "sentences": {}},
}  # fmt: skip

# recipe-train's start-up, phase by phase (the rest is imports, the command line and the output folder).
RECIPE_PHASES = ",".join(
    [
        "recipe_cli.training.train:create_pipeline",
        "recipe_cli.training.setup:read_data",
        "spacy.language:Language.initialize",
    ]
)
SPACY_PHASES = "spacy.cli.train:init_nlp"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="ner,tagger,textcat,morphologizer")
    parser.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every task's epochs (quick runs)")
    parser.add_argument("--overhead-repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1, help="run the two trainers this many times, alternately")
    parser.add_argument("--overhead-only", action="store_true", help="only the loop-overhead measurement (WNUT17)")
    parser.add_argument("--out", type=Path, default=None, help="default: bench-out (--smoke: a temporary folder)")
    parser.add_argument("--data", type=Path, default=SHARED, help="the full corpora (default: ../shared/data)")
    parser.add_argument("--smoke", action="store_true", help="the bundled slices, one epoch: checks that it runs")
    parser.add_argument("--recipe-args", default="", help="more recipe-train arguments, e.g. '--training.x y'")
    args = parser.parse_args()
    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="benchmark-smoke-"))
        args.overhead_repeats = min(args.overhead_repeats, 1)
    elif not args.data.is_dir():
        print(f"Benchmark data not found: {args.data} (the full corpora live in ../shared/data). Nothing measured.")
        return 1
    args.out = args.out or REPO / "bench-out"
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine(), "smoke": args.smoke, "tasks": {}}
    for key in args.tasks.split(","):
        task = smoke_task(key, args.out) if args.smoke else on_data(TASKS[key], args.data)
        task["epochs"] = 1 if args.smoke else max(1, round(task["epochs"] * args.epochs_scale))
        work = args.out / key
        work.mkdir(parents=True, exist_ok=True)
        print(f"== {task['name']} ({task['epochs']} epochs)", flush=True)
        files = prepare_data(task, work, limit=SMOKE_DOCS if args.smoke else 0)
        if args.overhead_only:
            overhead = loop_overhead(task, files, repeats=args.overhead_repeats)
            (args.out / "overhead.json").write_text(json.dumps(overhead, indent=2))
            print(json.dumps(overhead), flush=True)
            return 0
        result = {"epochs": task["epochs"], "metric": task["metric"], "data": {k: str(v) for k, v in files.items()}}
        result["rounds"] = []
        for i in range(args.rounds):
            # Alternately, so that a machine that gets busier or quieter favours neither; the last round is reported.
            trainers = {"spacy": run_spacy_train, "recipe": run_recipe_train}
            order = list(trainers) if i % 2 == 0 else list(trainers)[::-1]
            for who in order:
                if who == "spacy":
                    result["spacy"] = run_spacy_train(task, files, work)
                else:
                    result["recipe"] = run_recipe_train(task, files, work, args.recipe_args.split())
            # The quality is spaCy's best dev score of the same round: found from each run's evaluations.
            result["recipe"]["seconds_to_quality"] = reached(
                result["recipe"]["evaluations"], task["metric"], result["spacy"]["best_dev"]
            )
            result["rounds"].append({who: result[who] for who in trainers})
            print(f"  round {i + 1}: " + ratios(result), flush=True)
        if key == "ner":
            result["loop_overhead"] = loop_overhead(task, files, repeats=args.overhead_repeats)
        results["tasks"][key] = result
        (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"Results in {args.out / 'results.json'}")
    return 0


def on_data(task: dict, data: Path) -> dict:
    """A task with its corpora under data instead of ../shared/data."""
    return {**task, **{split: data / Path(task[split]).relative_to(SHARED) for split in ("train", "dev", "test")}}


def smoke_task(key: str, out: Path) -> dict:
    """A task on the bundled slices; TweetEval's text and label files are written from the GoEmotions slice."""
    task = dict(SMOKE_TASKS[key])
    if task["format"] == "tweeteval":
        import srsly

        folder = out / "tweeteval-smoke"
        folder.mkdir(parents=True, exist_ok=True)
        names = ["admiration", "amusement", "anger", "gratitude", "love", "neutral"]
        (folder / "mapping.txt").write_text("".join(f"{i}\t{name}\n" for i, name in enumerate(names)))
        for split, source in (("train", "goemotions-train.json"), ("val", "goemotions-dev.json")):
            records = srsly.read_json(BUNDLED / source)
            texts = [" ".join(text.split()) for text, _ in records]
            labels = [names.index(max(annot["cats"], key=annot["cats"].get)) for _, annot in records]
            (folder / f"{split}_text.txt").write_text("".join(t + "\n" for t in texts), encoding="utf8")
            (folder / f"{split}_labels.txt").write_text("".join(f"{label}\n" for label in labels))
        task.update({split: folder / task[split] for split in ("train", "dev", "test")})
    return task


def train_words(path: Path) -> int:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    return sum(len(doc) for doc in DocBin().from_disk(path).get_docs(nlp.vocab))


def test_score(model: Path, test: Path, metric: str) -> float:
    from recipe_cli.evaluation.scoring import evaluate

    return evaluate(model, [test], per_label=False)["scores"][metric]


def run_spacy_train(task: dict, files: dict, work: Path) -> dict:
    cfg = work / "spacy.cfg"
    subprocess.run([sys.executable, "-m", "spacy", "init", "config", str(cfg), "-p", task["component"],
                    "-o", "efficiency", "-F"], check=True, capture_output=True)  # fmt: skip
    out = work / "spacy-out"
    args = ["train", str(cfg), "-o", str(out), "--paths.train", str(files["train"]), "--paths.dev",
            str(files["dev"]), "--training.max_epochs", str(task["epochs"]), "--training.max_steps", "0",
            "--training.patience", "0", "--system.seed", "0"]  # fmt: skip
    print("  spacy train ...", flush=True)
    stats = measure("spacy", args, work / "spacy-stats.json", work / "spacy-train.log", SPACY_PHASES)
    words = train_words(files["train"]) * task["epochs"]
    meta = json.loads((out / "model-best" / "meta.json").read_text())
    spent = stats["spent"]
    # Its loop: from the first update to the end of the command (the final save included).
    loop = stats["seconds"] - stats["startup_seconds"]
    return {
        **stats,
        "outside_updates_share": 1 - spent["update"] / loop,
        "words_per_second": words / stats["seconds"],
        "bookkeeping_seconds": spent.get("evaluate", 0.0) + spent.get("to_disk", 0.0),
        "bookkeeping_share": (spent.get("evaluate", 0.0) + spent.get("to_disk", 0.0)) / loop,
        "best_dev": meta["performance"].get(task["metric"]),
        # When spaCy reached its best dev score (its first evaluation with it), from the command's start.
        "seconds_to_best": reached(stats["evaluations"], task["metric"], meta["performance"].get(task["metric"])),
        "test_best": test_score(out / "model-best", files["test"], task["metric"]),
        "test_last": test_score(out / "model-last", files["test"], task["metric"]),
    }


def reached(evaluations: list[dict], metric: str, quality: float | None) -> float | None:
    """Seconds from the command's start to the end of its first evaluation scoring quality or more on metric."""
    if quality is None:
        return None
    times = [e["at"] for e in evaluations if e["scores"].get(metric, -1.0) >= quality - 1e-9]
    return min(times) if times else None


def run_recipe_train(task: dict, files: dict, work: Path, extra: list[str] = ()) -> dict:
    out = work / "recipe-out"
    args = [task["component"], str(files["train"]), "--dev", str(files["dev"]), "-o", str(out), "--overwrite",
            "--training.max_epochs", str(task["epochs"]), "--training.patience", "0", "--seed", "0", *extra]  # fmt: skip
    print("  recipe-train ...", flush=True)
    stats = measure("recipe_cli", ["train", *args], work / "recipe-stats.json", work / "recipe-train.log",
                    RECIPE_PHASES)  # fmt: skip
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    words = rows[-1]["words"]
    best = max(rows, key=lambda r: r["score"])
    checkpoint = sum(r["checkpoint_seconds"] for r in rows)
    shares = [r["checkpoint_seconds"] / r["seconds"] for r in rows]
    late = shares[len(shares) // 2 :]
    loop = stats["seconds"] - stats["startup_seconds"]
    # recipe-train evaluates after each epoch (its own pass over the dev data, not Language.evaluate): an epoch's
    # score is there at the end of its row's seconds, counted from the first update.
    ends = [stats["startup_seconds"] + sum(r["seconds"] for r in rows[: i + 1]) for i in range(len(rows))]
    stats["evaluations"] = [{"at": at, "scores": row["scores"]} for at, row in zip(ends, rows, strict=True)]
    return {
        **stats,
        # The same measure as spacy train's: the share of the loop (first update to the command's end) spent
        # outside nlp.update (batching and reading the data too, and the wait for the last training.png).
        "outside_updates_share": 1 - stats["spent"]["update"] / loop,
        "words_per_second": words / stats["seconds"],
        "train_words_per_second": words / sum(r["train_seconds"] for r in rows),
        "best_epoch": best["epoch"],
        "best_dev": best["scores"].get(task["metric"]),
        "test_best": test_score(out / "model-best", files["test"], task["metric"]),
        "test_last": test_score(out / "model-last", files["test"], task["metric"]),
        "checkpoint_share": checkpoint / sum(r["seconds"] for r in rows),
        "checkpoint_share_per_epoch": shares,
        "checkpoint_share_per_epoch_max": max(shares),
        # The later half of the epochs, the shortest (the batches have grown): where bookkeeping weighs most.
        "checkpoint_share_late_mean": sum(late) / len(late),
        "checkpoint_seconds_per_epoch_mean": checkpoint / len(rows),
        "epochs_seconds": sum(r["seconds"] for r in rows),
        # Wall time outside the epochs' rows: start-up before the first update, and the end (last plot, summary).
        "outside_epochs_seconds": stats["seconds"] - sum(r["seconds"] for r in rows),
    }


def replayed(examples, replay):
    """The precomputed batches, after consuming the loop's shuffled stream (its cost is the loop's)."""
    for _ in examples:
        pass
    return next(replay)


def loop_overhead(task: dict, files: dict, *, repeats: int, epochs: int = 1) -> dict:
    """Time train_epochs against a bare nlp.update loop over the same precomputed batches."""
    import random

    from spacy.training import Corpus
    from thinc.api import fix_random_seed

    from recipe_cli.config.build import build_config
    from recipe_cli.training.loop import train_epochs
    from recipe_cli.training.setup import create_pipeline, resolve_training

    def fresh():
        tc = build_config([task["component"]], overrides={"paths.train": str(files["train"]),
                                                          "paths.dev": str(files["dev"]),
                                                          "training.batcher.size.stop": 16})  # fmt: skip
        nlp, _ = create_pipeline(tc.config)
        T = resolve_training(nlp.config)
        examples = list(Corpus(files["train"])(nlp))
        fix_random_seed(0)
        nlp.initialize(lambda: examples, sgd=T["optimizer"])
        return nlp, T, examples

    # The batch sequence both loops train on, as positions in the example list: the recipe's
    # shuffling and compounding batcher, computed once.
    nlp, T, examples = fresh()
    rng, batches, order = random.Random(0), [], list(range(len(examples)))
    for _ in range(epochs):
        rng.shuffle(order)
        batches.append([list(b) for b in T["batcher"](order)])
    n_words = sum(len(examples[i].predicted) for epoch in batches for b in epoch for i in b)

    def resolve(examples: list) -> list:
        return [[[examples[i] for i in b] for b in epoch] for epoch in batches]

    def bare() -> float:
        nlp, T, examples = fresh()
        optimizer, dropouts, losses = T["optimizer"], T["dropout"], {}
        epochs_batches = resolve(examples)
        start = time.perf_counter()
        for epoch in epochs_batches:
            for batch in epoch:
                nlp.update(batch, drop=next(dropouts), sgd=optimizer, losses=losses)
        return time.perf_counter() - start

    def recipe() -> float:
        nlp, T, examples = fresh()
        replay = iter(resolve(examples))
        start = time.perf_counter()
        for _ in train_epochs(nlp, T["optimizer"], lambda: examples, batcher=lambda egs: replayed(egs, replay),
                              dropouts=T["dropout"], rng=random.Random(0), max_epochs=epochs):  # fmt: skip
            pass
        return time.perf_counter() - start

    def bookkeeping() -> dict:
        """Time outside the updates in each loop: what the recipe's loop adds, free of update-time noise."""
        import recipe_cli.training.loop as loop_module

        spent = {"bare": 0.0, "recipe": 0.0}
        nlp, T, examples = fresh()
        optimizer, dropouts, losses = T["optimizer"], T["dropout"], {}
        epochs_batches = resolve(examples)
        start = time.perf_counter()
        for epoch in epochs_batches:
            for batch in epoch:
                t = time.perf_counter()
                nlp.update(batch, drop=next(dropouts), sgd=optimizer, losses=losses)
                spent["bare"] += time.perf_counter() - t
        bare_total = time.perf_counter() - start

        real_update = loop_module.apply_update

        def timed_update(*args, **kwargs):
            t = time.perf_counter()
            real_update(*args, **kwargs)
            spent["recipe"] += time.perf_counter() - t

        nlp, T, examples = fresh()
        replay = iter(resolve(examples))
        loop_module.apply_update = timed_update
        try:
            start = time.perf_counter()
            for _ in train_epochs(nlp, T["optimizer"], lambda: examples, batcher=lambda egs: replayed(egs, replay),
                                  dropouts=T["dropout"], rng=random.Random(0), max_epochs=epochs):  # fmt: skip
                pass
            recipe_total = time.perf_counter() - start
        finally:
            loop_module.apply_update = real_update
        outside = {"bare": bare_total - spent["bare"], "recipe": recipe_total - spent["recipe"]}
        return {"outside_updates_seconds": outside, "totals": {"bare": bare_total, "recipe": recipe_total},
                "added_share": (outside["recipe"] - outside["bare"]) / bare_total}  # fmt: skip

    if repeats <= 0:
        return {"words": n_words, "bookkeeping": bookkeeping()}
    times = {"bare": [], "recipe": []}
    for i in range(repeats):
        order = (("bare", bare), ("recipe", recipe)) if i % 2 == 0 else (("recipe", recipe), ("bare", bare))
        for name, fn in order:
            times[name].append(fn())
            print(f"  loop {name}: {times[name][-1]:.1f}s", flush=True)
    best = {name: min(values) for name, values in times.items()}
    return {
        "words": n_words,
        "seconds": times,
        "bookkeeping": bookkeeping(),
        "ratio_min": best["recipe"] / best["bare"],
        "ratio_median": sorted(times["recipe"])[repeats // 2] / sorted(times["bare"])[repeats // 2],
    }


def ratios(result: dict) -> str:
    """One round's ratios recipe-train / spacy train: wall, start-up, and each one's bookkeeping."""
    s, c = result["spacy"], result["recipe"]
    return (
        f"wall {c['seconds'] / s['seconds']:.2f}, start-up {c['startup_seconds'] / s['startup_seconds']:.2f} "
        f"({c['startup_seconds']:.1f}s / {s['startup_seconds']:.1f}s); recipe bookkeeping per epoch "
        f"{c['checkpoint_share']:.1%} (later epochs {c['checkpoint_share_late_mean']:.1%}), outside updates "
        f"{c['outside_updates_share']:.1%} vs spaCy's {s['outside_updates_share']:.1%}"
    )


def report(results: dict) -> str:
    lines = [
        "| task (epochs) | trainer | wall s | words/s | peak RSS MB | best dev | test (model-best) | test (model-last) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, r in results["tasks"].items():
        for who in ("spacy", "recipe"):
            s = r[who]
            lines.append(
                f"| {TASKS[key]['name']} ({r['epochs']}) | {'spacy train' if who == 'spacy' else 'recipe-train'} "
                f"| {s['seconds']:.0f} | {s['words_per_second']:,.0f} | {s['peak_rss_mb']:.0f} "
                f"| {s['best_dev']:.3f} | {s['test_best']:.3f} | {s['test_last']:.3f} |"
            )
    lines.append("")
    lines.append(
        "| task | words/s ratio recipe/spaCy | s to spaCy's best dev (recipe / spaCy, ratio) | peak RSS ratio "
        "| wall ratio | start-up s (recipe / spaCy) "
        "| bookkeeping share (recipe: all / later epochs / max epoch; spaCy: eval+save) | loop overhead (min / median) |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for key, r in results["tasks"].items():
        s, c = r["spacy"], r["recipe"]
        mine, theirs = c.get("seconds_to_quality"), s.get("seconds_to_best")
        if mine and theirs:
            quality = f"{mine:.0f} / {theirs:.0f}, {mine / theirs:.2f}"
        else:
            quality = f"{'never' if not mine else f'{mine:.0f}'} / {f'{theirs:.0f}' if theirs else 'never'}"
        loop = r.get("loop_overhead")
        loop_txt = f"{loop['ratio_min']:.3f} / {loop['ratio_median']:.3f}" if loop and "ratio_min" in loop else "-"
        lines.append(
            f"| {TASKS[key]['name']} | {c['words_per_second'] / s['words_per_second']:.2f} | {quality} "
            f"| {c['peak_rss_mb'] / s['peak_rss_mb']:.2f} | {c['seconds'] / s['seconds']:.2f} "
            f"| {c['startup_seconds']:.1f} / {s['startup_seconds']:.1f} "
            f"| {c['checkpoint_share']:.1%} / {c['checkpoint_share_late_mean']:.1%} / "
            f"{c['checkpoint_share_per_epoch_max']:.1%}; {s['bookkeeping_share']:.1%} "
            f"(outside updates: {c['outside_updates_share']:.1%}; {s['outside_updates_share']:.1%}) | {loop_txt} |"
        )
    lines.append("")
    for key, r in results["tasks"].items():
        phases = {name.split(":")[-1]: round(sec, 2) for name, sec in r["recipe"]["spent"].items()
                  if ":" in name}  # fmt: skip
        lines.append(f"- {TASKS[key]['name']}: recipe-train start-up {r['recipe']['startup_seconds']:.1f}s {phases}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
