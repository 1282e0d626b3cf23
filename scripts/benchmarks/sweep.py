"""What recipe-sweep costs beside the training it runs, and how it scales, on this machine.

Four trials (TweetEval emotion textcat from ../shared/data, one variant, seeds 1-4, --epochs epochs), run:
  by hand     the same four `recipe-train` + `recipe-eval --json` commands the sweep runs, one after another;
  jobs-1      recipe-sweep --jobs 1            (overhead = its wall time over by-hand's, target <= 3%; and the
                                                driver's own share: its wall time less its trials');
  jobs-2      recipe-sweep --jobs 2            (scaling = jobs-1 wall / jobs-2 wall, expect close to 2x on 2 cores);
  ray-local   recipe-sweep --ray local --jobs 2 (per-trial overhead against jobs-2, in seconds; needs Ray).
Each in a fresh folder, side by side in one run, the modes alternating over --rounds rounds (medians reported),
so that the ratios compare like with like.

Usage: python -m scripts.benchmarks.sweep [--epochs 5] [--rounds 2] [--modes by-hand,jobs-1,jobs-2,ray-local]
                                        [--out bench-sweep]
       python -m scripts.benchmarks.sweep --smoke   (the bundled GoEmotions slice, 2 trials of 1 epoch, by hand and
                                                   --jobs 1 only, a temporary folder)
"""

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from recipe_cli.sweep.spec import load_spec
from recipe_cli.sweep.trial import commands, environment
from scripts.common import BUNDLED, TASKS, machine, prepare_data

MODES = ("by-hand", "jobs-1", "jobs-2", "ray-local")
SEEDS = [1, 2, 3, 4]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="times each mode runs, alternating (median reported)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--out", type=Path, default=None, help="default: bench-sweep (--smoke: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="the bundled slice, 1 epoch: checks that it runs")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="benchmark-sweep-smoke-"))
        args.epochs, args.rounds = 1, 1
        train = dev = BUNDLED / "goemotions-dev.json"
        common = {"training.max_epochs": 1, "corpora.train.limit": 40}
        # Two trials, and the two modes the overhead needs: enough to show every step runs.
        seeds, modes = SEEDS[:2], [m for m in modes if m in ("by-hand", "jobs-1")]
    else:
        args.out = args.out or Path("bench-sweep")
        task = TASKS["textcat"]
        if not task["train"].parent.is_dir():
            print(f"Benchmark data not found: {task['train'].parent}. Nothing measured.")
            return 1
        (args.out / "data").mkdir(parents=True, exist_ok=True)
        files = prepare_data(task, args.out / "data")
        train, dev = files["train"], files["dev"]
        common = {"training.max_epochs": args.epochs, "training.patience": 0}
        seeds = SEEDS
    if "ray-local" in modes and importlib.util.find_spec("ray") is None:
        print("Ray is not installed (pip install 'recipe-train[ray]'): ray-local left out.")
        modes.remove("ray-local")
    args.out.mkdir(parents=True, exist_ok=True)
    spec_path = args.out / "spec.yml"
    import srsly

    srsly.write_yaml(spec_path, {
        "tasks": {"emotion": {"component": "textcat", "train": str(Path(train).resolve()), "dev": str(Path(dev).resolve()),
                              "test": str(Path(dev).resolve())}},
        "seeds": seeds, "common": common, "variants": {"recipe": {}},
    })  # fmt: skip
    results: dict = {
        "smoke": args.smoke,
        "machine": machine(),
        "epochs": args.epochs,
        "trials": len(seeds),
        "modes": {},
    }
    # Rounds alternate the modes, so that a slower spell of the machine does not fall on one mode alone; each
    # figure below is the median over the rounds.
    for round_ in range(args.rounds):
        for mode in modes:
            folder = args.out / mode
            shutil.rmtree(folder, ignore_errors=True)
            seconds = by_hand(spec_path, folder) if mode == "by-hand" else sweep(spec_path, folder, mode)
            row = results["modes"].setdefault(mode, {"seconds": [], "driver_seconds": []})
            row["seconds"].append(round(seconds, 2))
            if mode == "jobs-1":
                # The driver's own time: its wall time less the trials' (one at a time with --jobs 1).
                trials = [json.loads(line) for line in (folder / "trials.jsonl").read_text().splitlines()]
                row["driver_seconds"].append(round(seconds - sum(t["wall_seconds"] for t in trials), 2))
            print(f"round {round_ + 1} {mode:<10} {seconds:8.1f} s", flush=True)
    m = {mode: statistics.median(row["seconds"]) for mode, row in results["modes"].items()}
    for mode, row in results["modes"].items():
        row["median_seconds"] = round(m[mode], 2)
    if "by-hand" in m and "jobs-1" in m:
        results["overhead_share"] = round(m["jobs-1"] / m["by-hand"] - 1, 4)
        driver = statistics.median(results["modes"]["jobs-1"]["driver_seconds"])
        results["driver_share_jobs1"] = round(driver / m["jobs-1"], 4)
    if "jobs-1" in m and "jobs-2" in m:
        results["scaling_jobs2"] = round(m["jobs-1"] / m["jobs-2"], 3)
    if "jobs-2" in m and "ray-local" in m:
        results["ray_overhead_per_trial_seconds"] = round((m["ray-local"] - m["jobs-2"]) / len(seeds), 2)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    for key in ("overhead_share", "driver_share_jobs1", "scaling_jobs2", "ray_overhead_per_trial_seconds"):
        if key in results:
            print(f"{key}: {results[key]}")
    return 0


def by_hand(spec_path: Path, folder: Path) -> float:
    """The sweep's own commands, one after another, without the sweep."""
    trials = load_spec(spec_path).trials()
    start = time.perf_counter()
    for trial in trials:
        for step, argv in commands(trial, folder):
            log = folder / "logs" / f"seed-{trial.seed}-{step}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("w") as stream:
                code = subprocess.run(argv, stdout=stream, stderr=subprocess.STDOUT, env=environment(trial)).returncode
            if code != 0:
                raise SystemExit(f"{' '.join(argv)} failed; see {log}")
    return time.perf_counter() - start


def sweep(spec_path: Path, folder: Path, mode: str) -> float:
    cmd = [sys.executable, "-m", "recipe_cli", "sweep", "run", str(spec_path), "-o", str(folder)]
    cmd += ["--jobs", "1"] if mode == "jobs-1" else ["--jobs", "2"]
    if mode == "ray-local":
        cmd += ["--ray", "local"]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr[-1500:]}")
    return seconds


if __name__ == "__main__":
    sys.exit(main())
