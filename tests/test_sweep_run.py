"""A real local sweep on a bundled slice (textcat, GoEmotions, 2 variants × 2 seeds, 2 epochs): its folders, its
rows equal to recipe-eval --json of each model-best, its report; and the same sweep with its driver SIGKILLed
mid-run: no trainer outlives it, and the re-run finishes with the same scores as the uninterrupted sweep."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import srsly
from typer.testing import CliRunner

from recipe_cli.cli.evaluate import app as eval_app
from recipe_cli.sweep.run import RESULTS_FILE
from recipe_cli.sweep.stats import BETTER, UNCLEAR, WORSE

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
IDS = ["emo/recipe/seed-1", "emo/recipe/seed-2", "emo/constant-batch/seed-1", "emo/constant-batch/seed-2"]


def write_spec(folder: Path) -> Path:
    spec = {
        "tasks": {"emo": {"component": "textcat", "train": str(DATA / "goemotions-train.json"),
                          "dev": str(DATA / "goemotions-dev.json"), "test": str(DATA / "goemotions-dev.json")}},
        "seeds": 2,
        "common": {"training.max_epochs": 2, "corpora.train.limit": 150},
        "variants": {"recipe": {}, "constant-batch": {"training.batcher.size.start": "auto"}},
    }  # fmt: skip
    path = folder / "spec.yml"
    srsly.write_yaml(path, spec)
    return path


def sweep_command(spec: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "recipe_cli", "sweep", "run", str(spec), "-o", str(out), "--jobs", "2"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    out = folder / "out"
    result = subprocess.run(sweep_command(write_spec(folder), out), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return out, result


def test_four_trial_folders_that_spacy_and_recipe_eval_read(sweep):
    out, _ = sweep
    for trial in IDS:
        folder = out / "trials" / trial
        assert (folder / "model-best" / "meta.json").is_file() and (folder / "epoch-002").is_dir()
        assert srsly.read_json(folder / "trial.json")["id"] == trial
    assert sorted(p.name for p in (out / "trials" / "emo").iterdir()) == ["constant-batch", "recipe"]


def test_rows_equal_recipe_eval_of_each_model_best(sweep):
    out, _ = sweep
    rows = {row["id"]: row for row in srsly.read_jsonl(out / RESULTS_FILE)}
    assert sorted(rows) == sorted(IDS)
    runner = CliRunner()
    for trial, row in rows.items():
        model = out / "trials" / trial / "model-best"
        result = runner.invoke(eval_app, [str(model), str(DATA / "goemotions-dev.json"), "--json"])
        assert result.exit_code == 0, result.output
        scores = srsly.json_loads(result.stdout)
        # Every score but the speed (words per second of this evaluation, not of the model).
        del row["test"]["scores"]["speed"], scores["scores"]["speed"]
        assert row["test"]["scores"] == scores["scores"] and row["test_score"] == scores["score"]
        metrics = list(srsly.read_jsonl(out / "trials" / trial / "metrics.jsonl"))
        assert row["best_dev"] == max(m["score"] for m in metrics) and row["epochs"] == 2
        assert row["seed"] == int(trial[-1]) and row["words_per_second"] > 0


def test_constant_batch_keeps_the_recipes_maximum(sweep):
    out, _ = sweep
    # 150 training examples: the textcat maximum 64, halved below 1000 and again below 500.
    constant = [m["batch_size"] for m in srsly.read_jsonl(out / "trials/emo/constant-batch/seed-1/metrics.jsonl")]
    compounding = [m["batch_size"] for m in srsly.read_jsonl(out / "trials/emo/recipe/seed-1/metrics.jsonl")]
    assert constant == [16, 16]
    assert compounding[0] < 16


def test_report_has_a_verdict(sweep):
    out, result = sweep
    report = srsly.read_json(out / "results.json")
    comparison = report["tasks"]["emo"]["comparisons"]["constant-batch"]
    assert comparison["n"] == 2 and comparison["verdict"] in (BETTER, WORSE, UNCLEAR)
    assert f"| {comparison['verdict']} |" in result.stdout
    assert (out / "results.md").read_text() in result.stdout
    again = subprocess.run([sys.executable, "-m", "recipe_cli", "sweep", "report", str(out), "--json"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert srsly.json_loads(again.stdout) == report


def test_rerun_of_a_finished_sweep_trains_nothing(sweep):
    out, _ = sweep
    spec = out.parent / "spec.yml"
    before = (out / RESULTS_FILE).read_text()
    result = subprocess.run(sweep_command(spec, out), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Finished already: 4 of 4 trials" in result.stdout
    assert "Starting" not in result.stdout and (out / RESULTS_FILE).read_text() == before


def trainers_of(out: Path) -> list[int]:
    """Processes whose command line names a trial folder of the sweep (its trainers and evaluators)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(out / "trials") in cmdline:
                pids.append(int(entry.name))
    return pids


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert condition(), what


def with_epoch(out: Path) -> list[Path]:
    return list(out.glob("trials/*/*/*/epoch-001"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="children die with the driver through prctl")
def test_ctrl_c_then_sigkill_of_the_driver_and_the_reruns_match(sweep, tmp_path):
    full, _ = sweep
    out = tmp_path / "out"
    spec = write_spec(tmp_path)
    # Ctrl-C: every running trial saves model-last, the driver exits 130 and says how to go on.
    driver = subprocess.Popen(sweep_command(spec, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: with_epoch(out), 300, "no trial reached its first epoch")
    running = [Path(p).parent for p in with_epoch(out)]
    driver.send_signal(signal.SIGINT)
    _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130
    assert stderr.strip().splitlines()[-1] == (
        f"error: [E086] Interrupted: 2 running trial(s) stopped and saved. Run the same command again to continue {out}."
    )
    assert trainers_of(out) == []
    for folder in running:
        assert (folder / "model-last" / "meta.json").is_file()
    # SIGKILL: no trainer outlives the driver.
    driver = subprocess.Popen(sweep_command(spec, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: len(with_epoch(out)) >= 3, 300, "the re-run started no new trial")
    assert trainers_of(out), "no trainer running when the driver was killed"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    wait_for(lambda: trainers_of(out) == [], 60, "trainers outlived the killed driver")
    finished_before = len(list(srsly.read_jsonl(out / RESULTS_FILE))) if (out / RESULTS_FILE).exists() else 0
    assert finished_before < 4
    result = subprocess.run(sweep_command(spec, out), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["id"]: row for row in srsly.read_jsonl(out / RESULTS_FILE)}
    expected = {row["id"]: row for row in srsly.read_jsonl(full / RESULTS_FILE)}
    assert sorted(rows) == sorted(expected)
    assert {k: r["test_score"] for k, r in rows.items()} == {k: r["test_score"] for k, r in expected.items()}
    assert {k: r["best_epoch"] for k, r in rows.items()} == {k: r["best_epoch"] for k, r in expected.items()}
    assert "(resuming)" in result.stdout


def test_a_lengthened_spec_continues_its_trials_to_a_longer_sweeps_scores(sweep, tmp_path):
    """A spec whose only change is more epochs continues each finished trial from its last epoch (the recipe's
    schedules do not depend on the run's length), to what a sweep run that long from the start records."""
    longer, _ = sweep
    spec = srsly.read_yaml(longer.parent / "spec.yml")
    spec.update(seeds=1, variants={"recipe": {}})
    spec["common"]["training.max_epochs"] = 1
    path = tmp_path / "spec.yml"
    srsly.write_yaml(path, spec)
    out = tmp_path / "out"
    subprocess.run(sweep_command(path, out), capture_output=True, text=True, timeout=300, check=True)
    shorter = list(srsly.read_jsonl(out / RESULTS_FILE))
    assert [(row["id"], row["epochs"]) for row in shorter] == [("emo/recipe/seed-1", 1)]
    spec["common"]["training.max_epochs"] = 2
    srsly.write_yaml(path, spec)
    result = subprocess.run(sweep_command(path, out), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Starting: emo/recipe/seed-1 (extending: training.max_epochs = 2)" in result.stdout
    (row,) = srsly.read_jsonl(out / RESULTS_FILE)
    expected = {r["id"]: r for r in srsly.read_jsonl(longer / RESULTS_FILE)}["emo/recipe/seed-1"]
    assert row["fingerprint"] == expected["fingerprint"] and row["overrides"] == expected["overrides"]
    assert [point[:2] for point in row["curve"]] == [point[:2] for point in expected["curve"]]
    assert (row["epochs"], row["best_epoch"], row["test_score"]) == (
        expected["epochs"], expected["best_epoch"], expected["test_score"]
    )  # fmt: skip
    assert row["test"]["scores"]["cats_score"] == expected["test"]["scores"]["cats_score"]
    # Its wall time is both attempts'.
    assert row["wall_seconds"] > shorter[0]["wall_seconds"]
