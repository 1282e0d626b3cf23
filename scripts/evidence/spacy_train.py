"""Does the evidence study's spaCy-default row stand for what a `spacy train` user gets?

The study (scripts/evidence/evidence.yml) runs spaCy's own training settings through recipe-train
(-c spacy-default.cfg), so that both rows share the loop: an evaluated checkpoint every epoch, the same data reading.
This script trains each task once with `spacy train` itself: spaCy's `init config` for the component (CPU, efficiency, the same
architecture), the same data (converted to .spacy with recipe-train's readers, into the documents recipe-train
trains and scores the component on: 10 CoNLL-U sentences each for the parser), the task's epochs, patience 0,
seed 1; and scores its model-best on the task's test split, grouped alike, as the sweep scores a trial
(recipe-eval's scores, the spec's metric). Beside it, the spacy-default row of a finished sweep (mean ± sd over its seeds), and whether
the `spacy train` score lies within two standard deviations of that mean ("agrees within noise").

Usage: python -m scripts.evidence.spacy_train [--spec scripts/evidence/evidence.yml] [--sweep evidence] [--tasks a,b]
       [--out evidence-spacy] [--jobs 2]
       python -m scripts.evidence.spacy_train --smoke   (a one-task spec on the bundled slices, one epoch, no sweep)
A re-run continues: tasks with a result in OUT/results.json are kept. Prints a Markdown table.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from scripts.common import BUNDLED, REPO

VARIANT = "spacy-default"
SEED = 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, default=REPO / "scripts" / "evidence" / "evidence.yml")
    parser.add_argument("--sweep", type=Path, default=REPO / "evidence", help="the study's output folder")
    parser.add_argument("--tasks", default=None, help="comma list (default: every task of the spec)")
    parser.add_argument("--out", type=Path, default=None, help="default: evidence-spacy (--smoke: a temporary one)")
    parser.add_argument("--jobs", type=int, default=1, help="tasks trained at once (the study ran with --jobs 2)")
    parser.add_argument("--smoke", action="store_true", help="one task on the bundled slices, one epoch")
    args = parser.parse_args()
    from recipe_cli.errors import RecipeError
    from recipe_cli.sweep.spec import load_spec

    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="evidence-spacy-smoke-"))
        args.spec = smoke_spec(args.out)
    out: Path = args.out or REPO / "evidence-spacy"
    try:
        spec = load_spec(args.spec)
    except RecipeError as e:
        print(e)
        return 1
    wanted = args.tasks.split(",") if args.tasks else [task.name for task in spec.tasks]
    tasks = {task.name: task for task in spec.tasks if task.name in wanted}
    missing = [
        path for task in tasks.values() for path in (*task.train, *task.dev, *task.test) if not Path(path).exists()
    ]
    if missing:
        print(f"Data not found: {missing[0]} (make it with scripts/evidence/data.py). Nothing measured.")
        return 1
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    todo = {name: task for name, task in tasks.items() if name not in results}
    # Each task's `spacy train` is a process of its own; up to --jobs of them at once, as the study's trials ran.
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        running = {pool.submit(spacy_train, task, spec.metric, out / name): name for name, task in todo.items()}
        for done in as_completed(running):
            results[running[done]] = done.result()
            # In the spec's order, whichever finished first (a re-run keeps what is here).
            results = {name: results[name] for name in tasks if name in results}
            results_path.write_text(json.dumps(results, indent=2))
    print(report(results, read_sweep(args.sweep, spec.metric)))
    print(f"Results in {results_path}")
    return 0


def smoke_spec(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "smoke.yml"
    data = {"train": str(BUNDLED / "goemotions-train.json"), "dev": str(BUNDLED / "goemotions-dev.json"),
            "test": str(BUNDLED / "goemotions-dev.json")}  # fmt: skip
    path.write_text(
        json.dumps(
            {
                "tasks": {"emo": {"component": "textcat", **data, "overrides": {"training.max_epochs": 1}}},
                "seeds": 1,
                "variants": {"recipe": {}},
            }
        )  # fmt: skip
    )
    return path


def spacy_train(task, metric: str, work: Path) -> dict:
    """spaCy's own config and `spacy train` on the task's data; model-best scored on its test split."""
    from recipe_cli.evaluation.scoring import evaluate
    from recipe_cli.sweep.trial import metric_value

    print(f"== {task.name}: spacy train ({task.component})", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    sents = sents_per_doc(task)
    files = {split: to_docbin(getattr(task, split), task.format, work / f"{split}.spacy", sents)
             for split in ("train", "dev", "test")}  # fmt: skip
    cfg = work / "spacy.cfg"
    subprocess.run([sys.executable, "-m", "spacy", "init", "config", str(cfg), "-p", task.component,
                    "-o", "efficiency", "-F"], check=True, capture_output=True)  # fmt: skip
    epochs = int(task.overrides.get("training.max_epochs", 0))
    argv = [sys.executable, "-m", "spacy", "train", str(cfg), "-o", str(work / "out"), "--paths.train",
            str(files["train"]), "--paths.dev", str(files["dev"]), "--training.max_epochs", str(epochs),
            "--training.max_steps", "0", "--training.patience", "0", "--system.seed", str(SEED)]  # fmt: skip
    start = time.perf_counter()
    with (work / "spacy-train.log").open("w") as log:
        code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        raise SystemExit(f"spacy train failed (exit {code}); see {work / 'spacy-train.log'}")
    seconds = time.perf_counter() - start
    result = evaluate(work / "out" / "model-best", [files["test"]], per_label=False)
    return {"component": task.component, "epochs": epochs, "seed": SEED, "sents_per_doc": sents,
            "seconds": round(seconds, 1), "metric": metric, "test_score": metric_value(result, metric)}  # fmt: skip


def sents_per_doc(task) -> int:
    """Sentences per document, as a trial of the task groups its token-per-line files for training and scoring: the
    task's override, or the packaged config recipe-train builds for its components (10 for the parser and senter,
    1 for the others; the most of them for a comma list)."""
    from recipe_cli.config.build import parse_components, recipe_config

    packaged = recipe_config(parse_components(task.component))
    return int(task.overrides.get("corpora.train.sents_per_doc", packaged["corpora"]["train"]["sents_per_doc"]))


def to_docbin(paths: list[str], data_format: str | None, target: Path, sents: int = 1) -> Path:
    """The task's files as one .spacy file, read by recipe-train's readers into the documents a trial sees."""
    import spacy
    from spacy.tokens import DocBin

    from recipe_cli.data.formats import read_docs

    if not target.exists():
        nlp = spacy.blank("en")
        docs = [doc for path in paths
                for doc in read_docs(Path(path), nlp, format=data_format or "auto", sents_per_doc=sents)]  # fmt: skip
        DocBin(docs=docs, store_user_data=True).to_disk(target)
    return target


def read_sweep(sweep: Path, metric: str) -> dict[str, list[float]]:
    """Task → the spacy-default trials' test scores in the sweep's results (none when it has not run)."""
    path = sweep / "trials.jsonl"
    scores: dict[str, list[float]] = {}
    if not path.exists():
        return scores
    for line in path.read_text(encoding="utf8").splitlines():
        row = json.loads(line)
        task, variant, _ = row["id"].split("/")
        if variant == VARIANT and row.get("test_score") is not None:
            scores.setdefault(task, []).append(row["test_score"])
    return scores


def report(results: dict, sweep: dict[str, list[float]]) -> str:
    lines = [
        f"`spacy train` (seed {SEED}) against the study's {VARIANT} row (recipe-train with spaCy's settings); "
        "test split, model-best",
        "",
        "| task | component | epochs | spacy train | seconds | spacy-default row (mean ± sd, n) | agrees within noise |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        seeds = sweep.get(name, [])
        if len(seeds) >= 2:
            mean, sd = statistics.mean(seeds), statistics.stdev(seeds)
            row_text = f"{mean:.3f} ± {sd:.3f}, {len(seeds)}"
            agrees = "yes" if abs(row["test_score"] - mean) <= 2 * sd else f"no ({row['test_score'] - mean:+.3f})"
        else:
            row_text, agrees = "not run", ""
        lines.append(f"| {name} | {row['component']} | {row['epochs']} | {row['test_score']:.3f} | "
                     f"{row['seconds']:.0f} | {row_text} | {agrees} |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
