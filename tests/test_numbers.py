"""The run's numbers: the summary's speed over the same span as its time, and all of an epoch's bookkeeping in
checkpoint_seconds, training.png drawn off the training thread."""

import re
import time

import pytest
from spacy.util import registry
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.config.build import build_config
from recipe_cli.output import plots
from recipe_cli.output.layout import PLOT_FILE
from recipe_cli.output.metrics import read_rows
from recipe_cli.output.plots import BackgroundPlot
from recipe_cli.training.train import train

runner = CliRunner()
SLEEP = 0.3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _args(data_dir, out, *extra):
    return ["textcat", str(data_dir / "goemotions-train.json"), "--dev", str(data_dir / "goemotions-dev.json"),
            "-o", str(out), "--corpora.train.limit", "40", "--training.batcher.size.stop", "8", "--seed", "0",
            "-q", *map(str, extra)]  # fmt: skip


@registry.loggers("test.SlowLogger.v1")
def slow_logger(seconds: float):
    """A spaCy logger that takes `seconds` per epoch (an MLflow or W&B upload, say)."""

    def setup(nlp, stdout, stderr):
        return (lambda info: time.sleep(seconds) if info is not None else None), lambda: None

    return setup


@pytest.mark.slow
def test_resumed_summary_gives_all_words_over_all_update_seconds(tmp_path, data_dir):
    out = tmp_path / "out"
    first = runner.invoke(train_app, _args(data_dir, out, "--training.max_epochs", 2))
    assert first.exit_code == 0, first.output
    result = runner.invoke(train_app, ["--resume", str(out), "--training.max_epochs", "3", "-q"])
    assert result.exit_code == 0, result.output
    rows = read_rows(out / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    words, seconds = rows[-1]["words"], sum(row["train_seconds"] for row in rows)
    line = next(line for line in result.output.splitlines() if "Time" in line)
    # This command's time is labelled as such; the speed is the whole run's words over its update seconds.
    assert "for epoch 3 in this command, resumed after epoch 2" in line, line
    rate = re.search(r"; ([\d,]+) training words/second \(([\d,]+) words in ([\d.]+)s of updates, epochs 1-3\)", line)
    assert rate is not None, line
    assert int(rate.group(2).replace(",", "")) == words
    assert float(rate.group(3)) == pytest.approx(seconds, abs=0.05)
    assert int(rate.group(1).replace(",", "")) == round(words / seconds)


@pytest.mark.slow
def test_checkpoint_seconds_count_the_loggers_and_the_plot_request(tmp_path, data_dir, monkeypatch):
    real = BackgroundPlot.redraw

    def slow_redraw(self, rows, trace):
        time.sleep(SLEEP)
        real(self, rows, trace)

    monkeypatch.setattr(BackgroundPlot, "redraw", slow_redraw)
    out = tmp_path / "out"
    tc = build_config(["textcat"], overrides={"paths.train": str(data_dir / "goemotions-train.json"),
                                              "paths.dev": str(data_dir / "goemotions-dev.json"),
                                              "corpora.train.limit": 40, "training.max_epochs": 2})  # fmt: skip
    tc.config["training"]["logger"] = {"@loggers": "test.SlowLogger.v1", "seconds": SLEEP}
    train(tc, out)
    for row in read_rows(out / "metrics.jsonl"):
        assert row["checkpoint_seconds"] >= 2 * SLEEP
        assert row["seconds"] == pytest.approx(row["train_seconds"] + row["checkpoint_seconds"])


def _rows(n):
    return [{"epoch": e, "score": 0.1 * e, "losses": {"textcat": 10.0 / e}} for e in range(1, n + 1)]


def test_background_plot_returns_at_once_and_close_waits_for_the_newest(tmp_path, monkeypatch):
    drawn = tmp_path / "drawn.txt"
    # A worker whose drawings take a second each and that notes which epochs each drawing showed.
    slow = (
        f"import time; real = m.plot_training; "
        f"m.plot_training = lambda rows, trace, path: (time.sleep(1.0), "
        f"open({str(drawn)!r}, 'a').write(str(len(rows)) + chr(10)), real(rows, trace, path)); m.serve("
    )
    monkeypatch.setattr(plots, "WORKER", plots.WORKER.replace("m.serve(", slow))
    path = tmp_path / PLOT_FILE
    trace = [(i, 0.5, 1) for i in range(1, 50)]
    with BackgroundPlot(path) as plot:
        for n in range(1, 5):
            start = time.perf_counter()
            plot.redraw(_rows(n), trace)
            assert time.perf_counter() - start < 0.5
            time.sleep(0.1)
        plot.close()
        # Closed: the newest drawing is complete, the ones overtaken before they started were skipped.
        shown = [int(n) for n in drawn.read_text().split()]
        assert shown[-1] == 4 and len(shown) < 4
        assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert not list(tmp_path.glob(".*.tmp"))


def test_background_plot_draws_in_this_process_without_a_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(plots.subprocess, "Popen", lambda *a, **k: (_ for _ in ()).throw(OSError("no processes")))
    path = tmp_path / PLOT_FILE
    with BackgroundPlot(path) as plot:
        plot.redraw(_rows(2), [(1, 0.5, 1), (2, 0.4, 2)])
        assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_dev_evaluation_scores_as_nlp_evaluate(data_dir):
    import spacy

    from recipe_cli.evaluation.scoring import DevEvaluation

    nlp = spacy.blank("en")
    nlp.add_pipe("textcat")
    examples = _goemotions(nlp, data_dir)
    nlp.initialize(lambda: examples)
    dev = DevEvaluation(nlp)
    expected = {k: v for k, v in nlp.evaluate(examples).items() if k != "speed"}
    for _ in range(2):  # the second time with the tokenizer's scores and time kept from the first
        scores = dev.evaluate(examples)
        assert scores.pop("speed") > 0
        assert scores == expected
        assert list(scores) == list(expected)


def _goemotions(nlp, data_dir):
    import srsly
    from spacy.training import Example

    records = srsly.read_json(data_dir / "goemotions-dev.json")[:40]
    return [Example.from_dict(nlp.make_doc(text), annot) for text, annot in records]
