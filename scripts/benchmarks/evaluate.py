"""recipe-eval against `python -m spacy evaluate`, side by side in one run, on the WNUT17 test set.

Both commands score the same model on the same .spacy file (WNUT17 test, read by recipe-train's own
reader), alternately, several times. Reported: the pipeline speed each command measures (words/second,
spaCy's own "speed" score), the wall time of each whole command, and their ratios (recipe / spaCy). Then
recipe-eval scores every epoch of a training output folder, counting pipeline loads.

Usage: python -m scripts.benchmarks.evaluate [--run bench-out/ner/recipe-out] [--repeats 5] [--out bench-eval]
       python -m scripts.benchmarks.evaluate --smoke   (the bundled WNUT17 slices, one epoch, a temporary folder)
Without --run, a 3-epoch WNUT17 model is trained first.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.common import BUNDLED, REPO, SHARED

WNUT = SHARED / "wnut17"
FULL = {
    "train": WNUT / "wnut17train.conll",
    "dev": WNUT / "emerging.dev.conll",
    "test": WNUT / "emerging.test.annotated",
}
# --smoke: the slices the tests use (dev doubles as test), one epoch on the first 40 sentences.
SMOKE = {
    "train": BUNDLED / "wnut17-train.conll",
    "dev": BUNDLED / "wnut17-dev.conll",
    "test": BUNDLED / "wnut17-dev.conll",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=None, help="a recipe-train output folder trained on WNUT17")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="default: bench-eval (--smoke: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="the bundled slices, one epoch: checks that it runs")
    args = parser.parse_args()
    files = SMOKE if args.smoke else FULL
    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="benchmark-eval-smoke-"))
        args.repeats = 1
    elif not WNUT.is_dir():
        print(f"Benchmark data not found: {WNUT} (the full corpora live in ../shared/data). Nothing measured.")
        return 1
    args.out = args.out or REPO / "bench-eval"
    args.out.mkdir(parents=True, exist_ok=True)
    test = write_test_set(files["test"], args.out / "wnut17-test.spacy")
    training = ["--training.max_epochs", "1", "--corpora.train.limit", "40"] if args.smoke else []
    run = args.run or train_run(files, args.out / "run", training)
    model = run / "model-best"

    spacy_speed, recipe_speed, spacy_wall, recipe_wall = [], [], [], []
    for i in range(args.repeats):
        for who in ("spacy", "recipe") if i % 2 == 0 else ("recipe", "spacy"):
            if who == "spacy":
                wall, scores = run_spacy_evaluate(model, test, args.out / "spacy.json")
                spacy_wall.append(wall)
                spacy_speed.append(scores["speed"])
            else:
                wall, result = run_recipe_eval([str(model), str(test)])
                recipe_wall.append(wall)
                recipe_speed.append(result["speed"])
        print(f"  round {i + 1}: spacy {spacy_speed[-1]:,.0f} w/s, recipe {recipe_speed[-1]:,.0f} w/s", flush=True)

    wall, n_epochs, loads = score_run_folder(run, test)
    report = {
        "model": str(model),
        "speed_words_per_second": {"spacy": spacy_speed, "recipe": recipe_speed},
        "wall_seconds": {"spacy": spacy_wall, "recipe": recipe_wall},
        "speed_ratio_median": statistics.median(recipe_speed) / statistics.median(spacy_speed),
        "wall_ratio_median": statistics.median(recipe_wall) / statistics.median(spacy_wall),
        "run_folder": {"epochs": n_epochs, "seconds": wall, "pipeline_loads": loads},
    }
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    print(
        f"speed (words/s, median of {args.repeats}): spacy evaluate {statistics.median(spacy_speed):,.0f}, "
        f"recipe-eval {statistics.median(recipe_speed):,.0f}, ratio {report['speed_ratio_median']:.3f}\n"
        f"wall time per command (median): spacy {statistics.median(spacy_wall):.1f}s, "
        f"recipe {statistics.median(recipe_wall):.1f}s, ratio {report['wall_ratio_median']:.3f}\n"
        f"run folder: {n_epochs} epochs scored in {wall:.1f}s with {loads} pipeline loads"
    )
    return 0


def write_test_set(source: Path, path: Path) -> Path:
    import spacy
    from spacy.tokens import DocBin

    from recipe_cli.data.formats import read_docs

    if not path.exists():
        docs = list(read_docs(source, spacy.blank("en"), format="iob"))
        DocBin(docs=docs).to_disk(path)
    return path


def train_run(files: dict[str, Path], out: Path, extra: list[str]) -> Path:
    if not (out / "metrics.jsonl").exists():
        cmd = [sys.executable, "-m", "recipe_cli", "train", "ner", str(files["train"]), "--dev", str(files["dev"]),
               "-o", str(out), "--overwrite", "--training.max_epochs", "3", *extra]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def run_spacy_evaluate(model: Path, data: Path, output: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "spacy", "evaluate", str(model), str(data), "--output", str(output)]
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start, json.loads(output.read_text())


def run_recipe_eval(args: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "recipe_cli", "eval", *args, "--json"], check=True,
                            capture_output=True, text=True)  # fmt: skip
    return time.perf_counter() - start, json.loads(result.stdout)


def score_run_folder(run: Path, test: Path) -> tuple[float, int, int]:
    """Score every epoch of a run folder in-process: seconds, epochs scored, pipeline loads."""
    import recipe_cli.evaluation.scoring as evaluation
    import recipe_cli.pipeline as pipeline

    loads = []
    real = pipeline.load_model
    pipeline.load_model = lambda path, **kw: loads.append(path) or real(path, **kw)
    try:
        start = time.perf_counter()
        result = evaluation.evaluate_run(run, [test], per_label=False)
        seconds = time.perf_counter() - start
    finally:
        pipeline.load_model = real
    return seconds, len(result["epochs"]), len(loads)


if __name__ == "__main__":
    sys.exit(main())
