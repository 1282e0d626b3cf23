"""recipe-train against `spacy train` and a bare nlp.update loop, side by side, in one run.

Tasks (full sets from ../shared/data, read by recipe-train's own readers):
  WNUT17 ner, UD English EWT tagger, TweetEval emotion textcat.

For each task:
  * `spacy train` with spaCy's default efficiency config and `recipe-train` with its packaged
    config, the same number of epochs, seed 0, each in its own process: wall time, training
    words/second, peak RSS, best dev score, test score of model-best (ratios recipe / spaCy);
  * (WNUT17) the recipe's loop against a bare nlp.update loop over the very same batches,
    interleaved and repeated: the loop's overhead ratio;
  * the per-epoch save + evaluation time as a share of the epoch, from metrics.jsonl.

Usage: python scripts/benchmark.py [--tasks ner,tagger,textcat] [--epochs-scale 1.0] [--out bench-out]
Writes OUT/results.json and prints a Markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"

TASKS = {
    "ner": {
        "name": "WNUT17 ner",
        "component": "ner",
        "epochs": 30,
        "metric": "ents_f",
        "train": SHARED / "wnut17" / "wnut17train.conll",
        "dev": SHARED / "wnut17" / "emerging.dev.conll",
        "test": SHARED / "wnut17" / "emerging.test.annotated",
        "format": "iob",
    },
    "tagger": {
        "name": "UD EWT tagger",
        "component": "tagger",
        "epochs": 20,
        "metric": "tag_acc",
        "train": SHARED / "ud-english-ewt" / "en_ewt-ud-train.conllu",
        "dev": SHARED / "ud-english-ewt" / "en_ewt-ud-dev.conllu",
        "test": SHARED / "ud-english-ewt" / "en_ewt-ud-test.conllu",
        "format": "conllu",
    },
    "textcat": {
        "name": "TweetEval emotion textcat",
        "component": "textcat",
        "epochs": 30,
        "metric": "cats_macro_f",
        "train": SHARED / "tweeteval-emotion" / "train",
        "dev": SHARED / "tweeteval-emotion" / "val",
        "test": SHARED / "tweeteval-emotion" / "test",
        "format": "tweeteval",
    },
}

# Runs a command in a fresh Python process and reports its wall time and peak RSS.
_MEASURE = """
import resource, runpy, sys, time, json
out, module, args = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.argv = [module] + args
start = time.perf_counter()
code = 0
try:
    runpy.run_module(module, run_name="__main__")
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
finally:
    with open(out, "w") as f:
        json.dump({"seconds": time.perf_counter() - start,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "exit": code}, f)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="ner,tagger,textcat")
    parser.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every task's epochs (quick runs)")
    parser.add_argument("--overhead-repeats", type=int, default=3)
    parser.add_argument("--overhead-only", action="store_true", help="only the loop-overhead measurement (WNUT17)")
    parser.add_argument("--out", type=Path, default=REPO / "bench-out")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"Benchmark data not found: {SHARED} (the full corpora live in ../shared/data). Nothing measured.")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine(), "tasks": {}}
    for key in args.tasks.split(","):
        task = dict(TASKS[key])
        task["epochs"] = max(1, round(task["epochs"] * args.epochs_scale))
        work = args.out / key
        work.mkdir(parents=True, exist_ok=True)
        print(f"== {task['name']} ({task['epochs']} epochs)", flush=True)
        files = prepare_data(task, work)
        if args.overhead_only:
            overhead = loop_overhead(TASKS["ner"], files, repeats=args.overhead_repeats)
            (args.out / "overhead.json").write_text(json.dumps(overhead, indent=2))
            print(json.dumps(overhead), flush=True)
            return 0
        result = {"epochs": task["epochs"], "data": {k: str(v) for k, v in files.items()}}
        result["spacy"] = run_spacy_train(task, files, work)
        result["recipe"] = run_recipe_train(task, files, work)
        if key == "ner":
            result["loop_overhead"] = loop_overhead(task, files, repeats=args.overhead_repeats)
        results["tasks"][key] = result
        (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(report(results))
    return 0


def machine() -> dict:
    import platform

    import spacy
    import thinc

    return {
        "python": platform.python_version(),
        "spacy": spacy.__version__,
        "thinc": thinc.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


def prepare_data(task: dict, work: Path) -> dict[str, Path]:
    """Read train/dev/test with recipe-train's readers into .spacy files both trainers can read."""
    import spacy
    from spacy.tokens import DocBin

    from recipe_cli.formats import read_docs

    nlp = spacy.blank("en")
    files = {}
    for split in ("train", "dev", "test"):
        path = work / f"{split}.spacy"
        files[split] = path
        if path.exists():
            continue
        if task["format"] == "tweeteval":
            docs = tweeteval_docs(nlp, task[split])
        else:
            docs = list(read_docs(task[split], nlp, format=task["format"]))
        DocBin(docs=docs, store_user_data=True).to_disk(path)
    return files


def tweeteval_docs(nlp, prefix: Path) -> list:
    """TweetEval emotion: one tweet per line, its label id on the same line of *_labels.txt."""
    names = dict(line.split("\t") for line in (prefix.parent / "mapping.txt").read_text().splitlines() if line)
    texts = (prefix.parent / f"{prefix.name}_text.txt").read_text(encoding="utf8").splitlines()
    labels = (prefix.parent / f"{prefix.name}_labels.txt").read_text().split()
    docs = []
    for text, label in zip(texts, labels, strict=True):
        doc = nlp.make_doc(text.strip())
        doc.cats = {name: float(idx == label) for idx, name in names.items()}
        docs.append(doc)
    return docs


def measure(module: str, args: list[str], stats_path: Path, log_path: Path) -> dict:
    cmd = [sys.executable, "-c", _MEASURE, str(stats_path), module, *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("w") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    stats = json.loads(stats_path.read_text())
    if stats["exit"] != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed; see {log_path}")
    return stats


def train_words(path: Path) -> int:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    return sum(len(doc) for doc in DocBin().from_disk(path).get_docs(nlp.vocab))


def test_score(model: Path, test: Path, metric: str) -> float:
    from recipe_cli.evaluation import evaluate

    return evaluate(model, test)["scores"][metric]


def run_spacy_train(task: dict, files: dict, work: Path) -> dict:
    cfg = work / "spacy.cfg"
    subprocess.run([sys.executable, "-m", "spacy", "init", "config", str(cfg), "-p", task["component"],
                    "-o", "efficiency", "-F"], check=True, capture_output=True)  # fmt: skip
    out = work / "spacy-out"
    args = ["train", str(cfg), "-o", str(out), "--paths.train", str(files["train"]), "--paths.dev",
            str(files["dev"]), "--training.max_epochs", str(task["epochs"]), "--training.max_steps", "0",
            "--training.patience", "0", "--system.seed", "0"]  # fmt: skip
    print("  spacy train ...", flush=True)
    stats = measure("spacy", args, work / "spacy-stats.json", work / "spacy-train.log")
    words = train_words(files["train"]) * task["epochs"]
    meta = json.loads((out / "model-best" / "meta.json").read_text())
    return {
        **stats,
        "words_per_second": words / stats["seconds"],
        "best_dev": meta["performance"].get(task["metric"]),
        "test_best": test_score(out / "model-best", files["test"], task["metric"]),
        "test_last": test_score(out / "model-last", files["test"], task["metric"]),
    }


def run_recipe_train(task: dict, files: dict, work: Path) -> dict:
    out = work / "recipe-out"
    args = [task["component"], str(files["train"]), "--dev", str(files["dev"]), "-o", str(out), "--overwrite",
            "--training.max_epochs", str(task["epochs"]), "--training.patience", "0", "--seed", "0"]  # fmt: skip
    print("  recipe-train ...", flush=True)
    stats = measure("recipe_cli", ["train", *args], work / "recipe-stats.json", work / "recipe-train.log")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    words = rows[-1]["words"]
    best = max(rows, key=lambda r: r["score"])
    checkpoint = sum(r["checkpoint_seconds"] for r in rows)
    return {
        **stats,
        "words_per_second": words / stats["seconds"],
        "train_words_per_second": words / sum(r["train_seconds"] for r in rows),
        "best_epoch": best["epoch"],
        "best_dev": best["scores"].get(task["metric"]),
        "test_best": test_score(out / "model-best", files["test"], task["metric"]),
        "test_last": test_score(out / "model-last", files["test"], task["metric"]),
        "checkpoint_share": checkpoint / sum(r["seconds"] for r in rows),
        "checkpoint_share_per_epoch_max": max(r["checkpoint_seconds"] / r["seconds"] for r in rows),
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

    from recipe_cli.config import build_config
    from recipe_cli.loop import train_epochs
    from recipe_cli.schedules import as_schedule
    from recipe_cli.training import _create_pipeline, _resolve_training

    def fresh():
        tc = build_config([task["component"]], overrides={"paths.train": str(files["train"]),
                                                          "paths.dev": str(files["dev"]),
                                                          "training.batcher.size.stop": 16})  # fmt: skip
        nlp, _, _ = _create_pipeline(tc.config)
        T = _resolve_training(nlp.config)
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
        optimizer, dropouts, losses = T["optimizer"], as_schedule(T["dropout"]), {}
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
                              dropouts=as_schedule(T["dropout"]), rng=random.Random(0), max_epochs=epochs):  # fmt: skip
            pass
        return time.perf_counter() - start

    def bookkeeping() -> dict:
        """Time outside the updates in each loop: what the recipe's loop adds, free of update-time noise."""
        import recipe_cli.loop as loop_module

        spent = {"bare": 0.0, "recipe": 0.0}
        nlp, T, examples = fresh()
        optimizer, dropouts, losses = T["optimizer"], as_schedule(T["dropout"]), {}
        epochs_batches = resolve(examples)
        start = time.perf_counter()
        for epoch in epochs_batches:
            for batch in epoch:
                t = time.perf_counter()
                nlp.update(batch, drop=next(dropouts), sgd=optimizer, losses=losses)
                spent["bare"] += time.perf_counter() - t
        bare_total = time.perf_counter() - start

        real_update = loop_module._update

        def timed_update(*args, **kwargs):
            t = time.perf_counter()
            real_update(*args, **kwargs)
            spent["recipe"] += time.perf_counter() - t

        nlp, T, examples = fresh()
        replay = iter(resolve(examples))
        loop_module._update = timed_update
        try:
            start = time.perf_counter()
            for _ in train_epochs(nlp, T["optimizer"], lambda: examples, batcher=lambda egs: replayed(egs, replay),
                                  dropouts=as_schedule(T["dropout"]), rng=random.Random(0), max_epochs=epochs):  # fmt: skip
                pass
            recipe_total = time.perf_counter() - start
        finally:
            loop_module._update = real_update
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
        "| task | words/s ratio recipe/spaCy | peak RSS ratio | wall ratio | save+eval share | loop overhead (min / median) |"
    )
    lines.append("|---|---|---|---|---|---|")
    for key, r in results["tasks"].items():
        s, c = r["spacy"], r["recipe"]
        loop = r.get("loop_overhead")
        loop_txt = f"{loop['ratio_min']:.3f} / {loop['ratio_median']:.3f}" if loop else "-"
        lines.append(
            f"| {TASKS[key]['name']} | {c['words_per_second'] / s['words_per_second']:.2f} "
            f"| {c['peak_rss_mb'] / s['peak_rss_mb']:.2f} | {c['seconds'] / s['seconds']:.2f} "
            f"| {c['checkpoint_share']:.1%} | {loop_txt} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
