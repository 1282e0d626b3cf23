"""What saving the training state costs: disk beside the pipeline, and time against the epoch.

Trains `recipe-train ner` on WNUT17 train (../shared/data) for --epochs epochs (or reads an existing run with
--run), then, in this process, restores the newest epoch's training state into its pipeline and a fresh
optimizer, as --resume does, and writes the state again --repeats times.

Reports: pipeline size (model-last), training-state size and their ratio (target <= 2); seconds to write the
state against the mean epoch (training + evaluation + saving, from metrics.jsonl) (target <= 5%).

Usage: python -m scripts.benchmarks.resume [--run OUT] [--epochs 3] [--repeats 5] [--out bench-resume]
       python -m scripts.benchmarks.resume --smoke   (the bundled WNUT17 slices, one epoch, a temporary folder)
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.common import BUNDLED, SHARED, machine

TRAIN = SHARED / "wnut17" / "wnut17train.conll"
DEV = SHARED / "wnut17" / "emerging.dev.conll"


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="an existing recipe-train output folder")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="default: bench-resume (--smoke: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="the bundled slices, one epoch: checks that it runs")
    args = parser.parse_args()
    train, dev, extra = TRAIN, DEV, []
    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="benchmark-resume-smoke-"))
        args.epochs, args.repeats = 1, 1
        train, dev, extra = (
            BUNDLED / "wnut17-train.conll",
            BUNDLED / "wnut17-dev.conll",
            ["--corpora.train.limit", "40"],
        )
    args.out = args.out or Path("bench-resume")
    run = args.run
    if run is None:
        if not train.is_file():
            print(f"Benchmark data not found: {train} (the full corpora live in ../shared/data). Nothing measured.")
            return 1
        run = args.out / "run"
        cmd = [sys.executable, "-m", "recipe_cli", "train", "ner", str(train), "--dev", str(dev), "-o", str(run),
               "--overwrite", "-q", "--seed", "0", "--training.max_epochs", str(args.epochs), *extra]  # fmt: skip
        subprocess.run(cmd, check=True)

    from spacy.util import load_model

    from recipe_cli.output.layout import STATE_DIR
    from recipe_cli.output.state import read_state, restore_state, save_state
    from recipe_cli.training.resume import latest_state
    from recipe_cli.training.setup import resolve_training

    folder = latest_state(run)
    pipeline_bytes = folder_bytes(run / "model-last")
    state_bytes = folder_bytes(folder / STATE_DIR)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epoch_seconds = statistics.mean(row["seconds"] for row in rows)

    start = time.perf_counter()
    nlp = load_model(folder)
    T = resolve_training(nlp.config)
    restore_state(nlp, T["optimizer"], folder / STATE_DIR)
    state = read_state(folder / STATE_DIR)
    restore_seconds = time.perf_counter() - start
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            target = Path(tmp) / f"state-{i}"
            t0 = time.perf_counter()
            save_state(nlp, T["optimizer"], state, target)
            times.append(time.perf_counter() - t0)
            shutil.rmtree(target)
    save_seconds = statistics.median(times)
    results = {
        "machine": machine(),
        "run": str(run),
        "epoch": state.epoch,
        "pipeline_mb": pipeline_bytes / 1e6,
        "state_mb": state_bytes / 1e6,
        "state_over_pipeline": state_bytes / pipeline_bytes,
        "save_state_seconds": save_seconds,
        "epoch_seconds": epoch_seconds,
        "save_share_of_epoch": save_seconds / epoch_seconds,
        "load_and_restore_seconds": restore_seconds,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(
        f"Training state of {run} (epoch {state.epoch}): {results['state_mb']:.1f} MB beside a "
        f"{results['pipeline_mb']:.1f} MB pipeline = {results['state_over_pipeline']:.2f}x (target <= 2); writing it "
        f"takes {save_seconds:.2f} s of a {epoch_seconds:.1f} s epoch = {results['save_share_of_epoch']:.1%} "
        f"(target <= 5%); loading the pipeline and restoring the state {restore_seconds:.1f} s."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
