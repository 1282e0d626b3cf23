"""Seeing a run: the plot after every epoch, plain output off a terminal, spaCy's loggers (MLflow)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from spacy.util import registry
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.config.build import build_config
from recipe_cli.output import plots
from recipe_cli.output.layout import PLOT_FILE
from recipe_cli.output.metrics import read_rows
from recipe_cli.training.train import train

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()
seen_plots: list[tuple[int, bytes]] = []


@registry.loggers("test.PlotWatcher.v1")
def plot_watcher(path: str):
    """A spaCy logger that reads OUT/training.png each time it is called."""

    def setup(nlp, stdout, stderr):
        def log_step(info):
            if info is not None:
                plot = Path(path) / PLOT_FILE
                seen_plots.append((info["epoch"], plot.read_bytes() if plot.exists() else None))

        return log_step, lambda: None

    return setup


def _overrides(data_dir, out_limit=40):
    return {
        "paths.train": str(data_dir / "wnut17-train.conll"),
        "paths.dev": str(data_dir / "wnut17-dev.conll"),
        "corpora.train.limit": out_limit,
        "training.max_epochs": 3,
    }


@pytest.mark.slow
def test_plot_is_a_valid_png_whenever_seen_and_drawn_when_the_run_ends(tmp_path, data_dir):
    import matplotlib.image

    out = tmp_path / "out"
    tc = build_config(["ner"], overrides=_overrides(data_dir))
    tc.config["training"]["logger"] = {"@loggers": "test.PlotWatcher.v1", "path": str(out)}
    seen_plots.clear()
    train(tc, out)
    assert [epoch for epoch, _ in seen_plots] == [1, 2, 3]
    # A worker process draws it while training goes on: during the run it may be an earlier epoch's (or not
    # there yet), never a part-written file; when the run ends, the last epoch's is there.
    for _, data in seen_plots:
        assert data is None or data.startswith(PNG_SIGNATURE)
    assert (out / PLOT_FILE).read_bytes() not in {data for _, data in seen_plots[:-1]}
    image = matplotlib.image.imread(out / PLOT_FILE)
    assert image.shape[0] > 300 and image.shape[1] > 500


@pytest.mark.slow
def test_no_plot_draws_nothing_and_a_resume_keeps_the_runs_choice(tmp_path, data_dir, monkeypatch):
    """--no-plot: no training.png and no drawing process; --resume keeps that unless told --plot."""
    workers = []
    popen = subprocess.Popen

    def counting(args, *rest, **kwargs):
        if plots.WORKER in args:
            workers.append(args)
        return popen(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", counting)
    out = tmp_path / "out"
    args = ["ner", data_dir / "wnut17-train.conll", "-o", out, "-q", "--training.max_epochs", "1",
            "--corpora.train.limit", "30", "--no-plot"]  # fmt: skip
    assert runner.invoke(train_app, [str(a) for a in args]).exit_code == 0
    assert json.loads((out / "run.json").read_text())["plot"] is False
    assert not (out / PLOT_FILE).exists() and workers == []
    result = runner.invoke(train_app, ["--resume", str(out), "--training.max_epochs", "2", "-q"])
    assert result.exit_code == 0, result.output
    assert [row["epoch"] for row in read_rows(out / "metrics.jsonl")] == [1, 2]
    assert not (out / PLOT_FILE).exists() and workers == []
    result = runner.invoke(train_app, ["--resume", str(out), "--training.max_epochs", "3", "-q", "--plot"])
    assert result.exit_code == 0, result.output
    assert len(workers) == 1 and (out / PLOT_FILE).read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.slow
def test_quiet_prints_only_the_summary(tmp_path, data_dir):
    args = ["ner", data_dir / "wnut17-train.conll", "-o", tmp_path / "out", "--quiet", "--training.max_epochs", "1",
            "--corpora.train.limit", "30"]  # fmt: skip
    result = runner.invoke(train_app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("+ Best epoch 1 of 1")
    assert len(lines) == 3 and "\x1b[" not in result.output


@pytest.mark.slow
def test_mlflow_logger_records_every_epoch(tmp_path, data_dir, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # MLflow writes logged models' artifacts under ./mlruns: keep them out of the working tree.
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    tc = build_config(["ner"], overrides=_overrides(data_dir))
    tc.config["training"]["logger"] = {
        "@loggers": "spacy.ChainLogger.v1",
        "logger1": {"@loggers": "recipe.ConsoleLogger.v1"},
        "logger2": {"@loggers": "spacy.MLflowLogger.v2", "run_name": "recipe-test"},
    }
    train(tc, out)
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("Default").experiment_id])
    assert run.info.run_name == "recipe-test"
    rows = read_rows(out / "metrics.jsonl")
    history = client.get_metric_history(run.info.run_id, "score")
    assert [m.value for m in sorted(history, key=lambda m: m.timestamp)] == pytest.approx([r["score"] for r in rows])
    losses = client.get_metric_history(run.info.run_id, "loss_ner")
    assert [m.value for m in sorted(losses, key=lambda m: m.timestamp)] == pytest.approx(
        [r["losses"]["ner"] for r in rows]
    )
    assert run.data.params["training.optimizer.learn_rate"] == "0.001"
    assert mlflow.get_tracking_uri() == uri


@pytest.mark.slow
def test_spacy_console_logger_v3_logs_every_epoch(tmp_path, data_dir):
    import srsly

    out = tmp_path / "out"
    log = tmp_path / "log.jsonl"
    tc = build_config(["ner"], overrides=_overrides(data_dir))
    tc.config["training"]["logger"] = {
        "@loggers": "spacy.ConsoleLogger.v3",
        "progress_bar": None,
        "output_file": str(log),
    }
    train(tc, out)
    logged = list(srsly.read_jsonl(log))
    rows = read_rows(out / "metrics.jsonl")
    assert [entry["epoch"] for entry in logged] == [r["epoch"] for r in rows]
    assert [entry["score"] for entry in logged] == pytest.approx([r["score"] for r in rows])


def _console_run(args, *, terminal, no_color=False):
    """The installed recipe-train script run with stdout and stderr on a pseudo-terminal (or on a pipe): its exit
    code and everything it wrote."""
    import fcntl
    import pty
    import struct
    import termios

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR" and not k.startswith("RECIPE_")}
    if no_color:
        env["NO_COLOR"] = "1"
    script = Path(sys.executable).parent / "recipe-train"
    if not terminal:
        result = subprocess.run([script, *args], capture_output=True, text=True, env=env, timeout=300)
        return result.returncode, result.stdout + result.stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen([script, *args], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the script closed the terminal's other end
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return process.wait(timeout=60), b"".join(chunks).decode("utf8", errors="replace")


@pytest.mark.slow
def test_progress_bar_and_colour_on_a_terminal_only(tmp_path, data_dir):
    """On a terminal: a live bar per epoch (examples done of all, with tqdm's rate) and coloured lines; none of
    either with NO_COLOR set, or when the output is not a terminal."""
    outputs = {}
    for name, terminal, no_color in (("tty", True, False), ("no-color", True, True), ("pipe", False, False)):
        out = tmp_path / name
        args = ["ner", str(data_dir / "wnut17-train.conll"), "--dev", str(data_dir / "wnut17-dev.conll"), "-o", str(out),
                "--training.max_epochs", "1", "--corpora.train.limit", "30"]  # fmt: skip
        code, outputs[name] = _console_run(args, terminal=terminal, no_color=no_color)
        assert code == 0, outputs[name]
        assert "Best epoch 1 of 1" in outputs[name]
    bar = re.compile(r"Epoch 1: +\d+%\|.*\| *\d+/30 \[")
    assert bar.search(outputs["tty"]), outputs["tty"]
    assert "\x1b[1m" in outputs["tty"] and "\x1b[38;5;2m" in outputs["tty"]  # bold header, green best row
    for name in ("no-color", "pipe"):
        assert "\x1b[" not in outputs[name] and not bar.search(outputs[name]) and "Epoch 1:" not in outputs[name]
