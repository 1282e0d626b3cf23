"""recipe-sweep --ray: the same trials as Ray tasks. Without Ray, one line; a GPU trial trains on the GPU Ray
assigned; and on a real cluster (a head and a worker node on loopback, in a network namespace of the test's own)
whose worker node is killed mid-trial, every trial finishes, the killed ones resumed, with the local pool's table."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipe_cli.cli.sweep import app as sweep_app
from recipe_cli.errors import Errors, RecipeError
from recipe_cli.sweep import cluster
from recipe_cli.sweep.run import run_sweep
from recipe_cli.sweep.spec import load_spec
from recipe_cli.sweep.trial import commands

runner = CliRunner()
DATA = Path(__file__).parent / "data"
RUNNER = Path(__file__).parent / "ray_cluster_runner.py"
# Seconds the cluster run may take in all (start, sweep, kill, retries, stop), and the local pool's run.
CLUSTER_DEADLINE = 240
POOL_TIMEOUT = 180
# Two short trials (2 variants, 3 epochs of 100 examples each) whose scores differ; the cluster's worker node has a
# CPU for each, so both are running when it is killed.
SPEC = """\
tasks:
  emo:
    component: textcat
    train: {data}/goemotions-train.json
    dev: {data}/goemotions-dev.json
    test: {data}/goemotions-dev.json
seeds: 1
common: {{training.max_epochs: 3, corpora.train.limit: 100, training.optimizer.learn_rate: 0.01}}
variants:
  recipe: {{}}
  no-avg: {{training.optimizer.use_averages: false}}
resources: {{cpus: 1, gpus: {gpus}}}
"""
# What a trial's result is, as opposed to how long it took.
RESULT_KEYS = ("id", "fingerprint", "test_score", "best_dev", "best_epoch", "epochs", "test")


def _spec(folder: Path, gpus: int = 0) -> Path:
    path = folder / "sweep.yml"
    path.write_text(SPEC.format(data=DATA, gpus=gpus), encoding="utf8")
    return path


def test_ray_missing_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    spec = load_spec(_spec(tmp_path))
    with pytest.raises(RecipeError) as e:
        run_sweep(spec, tmp_path / "sweep", jobs=1, ray_address="local")
    assert str(e.value) == Errors.E082
    assert not (tmp_path / "sweep").exists()
    result = runner.invoke(sweep_app, ["run", str(_spec(tmp_path)), "-o", str(tmp_path / "sweep"), "--ray", "local"])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert 'pip install "recipe-train[ray]"' in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("assigned,gpu_id", [([], -1), ([3], 0)])
def test_a_gpu_trial_trains_on_the_gpu_ray_assigned(tmp_path, monkeypatch, assigned, gpu_id):
    """Ray sets CUDA_VISIBLE_DEVICES to the GPU it assigned a task: the trial trains and evaluates on device 0."""
    monkeypatch.delenv(cluster.NOSET_CUDA, raising=False)
    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace(get_gpu_ids=lambda: assigned))
    monkeypatch.setattr(cluster, "run_trial", lambda trial, sweep, gpu_id: commands(trial, sweep, gpu_id))
    trial = load_spec(_spec(tmp_path, gpus=1)).trials()[0]
    steps, error = cluster.trial_task(trial, str(tmp_path / "sweep"))
    assert error is None
    for _, argv in steps:
        assert ("--gpu-id" in argv) == (gpu_id >= 0)
        if gpu_id >= 0:
            assert argv[argv.index("--gpu-id") + 1] == str(gpu_id)


def test_the_assigned_gpu_is_the_machines_own_where_ray_leaves_cuda_visible_devices_alone(monkeypatch):
    monkeypatch.setenv(cluster.NOSET_CUDA, "1")
    assert cluster.assigned_gpu([2]) == 2
    assert cluster.assigned_gpu([]) == -1


def test_a_trial_that_fails_by_itself_is_an_error_line_not_a_retry(tmp_path, monkeypatch):
    def failing(trial, sweep, gpu_id):
        raise RecipeError(Errors.E084.format(id=trial.id, step="train", code=1, line="boom", log="train.log"))

    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace(get_gpu_ids=lambda: []))
    monkeypatch.setattr(cluster, "run_trial", failing)
    trial = load_spec(_spec(tmp_path)).trials()[0]
    row, error = cluster.trial_task(trial, str(tmp_path / "sweep"))
    assert row is None and error is not None and "boom" in error


@pytest.mark.parametrize("address,hint", [("127.0.0.1:6379", True), ("local", False)])
def test_a_cluster_ray_cannot_reach_is_one_line_naming_the_token_settings(monkeypatch, address, hint):
    """Ray says only "Failed to connect" for a missing or wrong token too: the line says what to set."""

    def init(*args, **kwargs):
        raise ConnectionError(f"Failed to connect to Ray cluster at {address}\n(after 20 s)")

    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace(init=init))
    with pytest.raises(RecipeError) as e:
        cluster.connect(address, jobs=1)
    assert "\n" not in str(e.value) and f"Failed to connect to Ray cluster at {address} (after 20 s)" in str(e.value)
    assert ("RAY_AUTH_MODE=token" in str(e.value)) == hint


def _table(sweep: Path) -> list[str]:
    """The report's table rows without the timing columns (s to best, words/s)."""
    text = (sweep / "results.md").read_text(encoding="utf8")
    return ["|".join(line.split("|")[:-3]) for line in text.splitlines() if line.startswith("|")]


def _results(sweep: Path) -> dict[str, dict]:
    """Trial id → its results in trials.jsonl: scores, epochs, settings; not where it ran, nor how fast."""
    rows = [json.loads(line) for line in (sweep / "trials.jsonl").read_text(encoding="utf8").splitlines()]
    results = {}
    for row in rows:
        results[row["id"]] = {key: row[key] for key in RESULT_KEYS}
        results[row["id"]]["test"] = {k: v for k, v in row["test"]["scores"].items() if k != "speed"}
    return results


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="unshare --net needs root")
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_a_sweep_on_a_ray_cluster_survives_a_killed_node(tmp_path):
    pytest.importorskip("ray")
    spec = _spec(tmp_path)
    pool = subprocess.run(
        [sys.executable, "-m", "recipe_cli", "sweep", "run", str(spec), "-o", str(tmp_path / "pool"), "--jobs", "2"],
        capture_output=True, text=True, timeout=POOL_TIMEOUT, check=False,
    )  # fmt: skip
    assert pool.returncode == 0, pool.stdout + pool.stderr

    # A short folder of Ray's own (its socket paths must stay under 108 characters), removed whatever happens; the
    # PID namespace takes every Ray process with it when the runner ends or is killed.
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    sweep = tmp_path / "ray"
    try:
        result = subprocess.run(
            ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
             sys.executable, str(RUNNER), str(spec), str(sweep), ray_tmp, str(CLUSTER_DEADLINE)],
            capture_output=True, text=True, timeout=CLUSTER_DEADLINE + 60, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    report = json.loads(lines[-1])
    context = f"{report.get('output')}\n{result.stderr[-3000:]}"
    assert report["killed"], context  # the worker node was killed mid-sweep...
    assert report["code"] == 0 and not report.get("timed_out"), context  # ...and every trial finished
    assert report["stop_code"] == 0, context

    # The trials that were running on the killed node ran again: with recipe-train --resume where it had written
    # run.json, and after its last epoch where it had saved one (the node was killed once one had).
    assert any(state["epoch"] for state in report["in_progress"].values()), context
    for trial, state in report["in_progress"].items():
        log = (sweep / "trials" / trial / "train.log").read_text(encoding="utf8")
        started = [line for line in log.splitlines() if line.startswith("$ ")]
        assert len(started) == 2 and ("train --resume" in log) == state["run_file"], log
        if state["epoch"]:
            assert "- Resuming: " in log and "after epoch" in log, log

    # The same results, and the same table but for the timings, as the local pool's.
    assert _results(sweep) == _results(tmp_path / "pool")
    assert len(_results(sweep)) == 2
    assert _table(sweep) == _table(tmp_path / "pool")
