"""A dropout schedule over the run's planned updates (total_steps = "auto"): their number is counted once the data
is read and batched, the run reaches the floor where the share says, and the number is saved in the pipeline's
config (which a resumed run loads) while run.json keeps "auto" for a run that starts again."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import srsly
from thinc.api import Config
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.config.build import recipe_config
from recipe_cli.errors import Errors
from recipe_cli.training.plan import auto_settings, plan_run
from recipe_cli.training.setup import create_pipeline

DATA = Path(__file__).parent / "data"
runner = CliRunner()
SHARE_CONFIG = """
[training]

[training.dropout]
@schedules = "recipe.linear_decay_share.v1"
start = 0.6
stop = 0.2
share = 0.5
total_steps = "auto"
"""


def _train(tmp_path, *extra):
    (tmp_path / "share.cfg").write_text(SHARE_CONFIG)
    args = ["ner", str(DATA / "wnut17-train.conll"), "--dev", str(DATA / "wnut17-dev.conll"), "-o",
            str(tmp_path / "out"), "-c", str(tmp_path / "share.cfg"), "--corpora.train.limit", "30",
            "--corpora.dev.limit", "8", "--seed", "1", "--no-plot", *extra]  # fmt: skip
    return runner.invoke(train_app, args)


def test_dropout_reaches_its_floor_at_the_share_of_the_planned_updates(tmp_path):
    result = _train(tmp_path, "--training.max_epochs", "4", "--training.patience", "0")
    assert result.exit_code == 0, result.output
    rows = list(srsly.read_jsonl(tmp_path / "out" / "metrics.jsonl"))
    planned = rows[-1]["step"]  # no early stop: every planned update was made
    assert f"- Dropout: 0.6 → 0.2 over the first 50% of {planned:,} planned updates" in result.output.splitlines()
    saved = (tmp_path / "out" / "model-last" / "config.cfg").read_text()
    assert f"total_steps = {planned}" in saved
    # Each row's dropout is the one of its epoch's last update: the floor from half of the planned updates on.
    for row in rows:
        expected = max(0.2, 0.6 - 0.4 * (row["step"] - 1) / (0.5 * planned))
        assert row["dropout"] == pytest.approx(expected)
    assert rows[0]["dropout"] > rows[1]["dropout"] > 0.2 == rows[2]["dropout"] == rows[3]["dropout"]


def test_the_recorded_config_keeps_auto_for_a_run_that_starts_again(tmp_path):
    """run.json's config is what a run stopped before its first epoch starts again from: its "auto" settings must be
    there as given, not the numbers the plan fills in once the data is counted. The pipeline is created with them
    as given too (no number stands in), and the plan fills them in a copy."""
    config = recipe_config(["ner"])
    config["training"]["dropout"] = {"@schedules": "recipe.linear_decay_share.v1", "start": 0.6, "stop": 0.2,
                                     "share": 0.5, "total_steps": "auto"}  # fmt: skip
    config["training"]["batcher"]["size"]["start"] = "auto"
    before = config.to_str()
    nlp, _ = create_pipeline(config)
    assert config.to_str() == before
    assert auto_settings(nlp.config["training"]) == ["batcher.size.start", "batcher.size.stop", "dropout.total_steps"]
    assert nlp.config["training"]["dropout"]["total_steps"] == "auto"
    assert (
        nlp.config["training"]["batcher"]["size"]["start"]
        == nlp.config["training"]["batcher"]["size"]["stop"]
        == "auto"
    )
    # Planned for 100 examples of ner (max 16, halved below 1,000 and again below 500) over 2 epochs: batches of
    # 4 examples, 25 an epoch.
    data = SimpleNamespace(n_train=100, train=lambda: [object()] * 100)
    nlp.config["training"]["max_epochs"] = 2
    planned = plan_run(nlp.config, ["ner"], data)
    assert nlp.config["training"]["dropout"]["total_steps"] == "auto"
    assert planned["training"]["batcher"]["size"]["start"] == planned["training"]["batcher"]["size"]["stop"] == 4
    assert planned["training"]["dropout"]["total_steps"] == 50
    result = _train(tmp_path, "--training.max_epochs", "1")
    assert result.exit_code == 0, result.output
    recorded = Config().from_str(srsly.read_json(tmp_path / "out" / "run.json")["config"], interpolate=False)
    assert recorded["training"]["dropout"]["total_steps"] == "auto"
    assert recorded["training"]["batcher"]["size"]["stop"] == "auto"


def test_planned_updates_need_a_limit(tmp_path):
    result = _train(tmp_path, "--training.max_epochs", "0", "--training.max_steps", "0")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"error: {Errors.E093}"


def test_training_is_resolved_once_per_run_with_nothing_left_auto(tmp_path, monkeypatch):
    """Plan, then resolve once: a fresh run resolves [training] exactly once, after its "auto" settings (here the
    batch size and the dropout's planned updates) are filled in; what it resolves holds no "auto"."""
    import recipe_cli.training.train as training

    resolved = []
    original = training.resolve_training

    def counted(config):
        resolved.append(config["training"].copy())
        return original(config)

    monkeypatch.setattr(training, "resolve_training", counted)
    result = _train(tmp_path, "--training.max_epochs", "2")
    assert result.exit_code == 0, result.output
    assert len(resolved) == 1
    (block,) = resolved
    assert block["batcher"]["size"]["stop"] == 4 and block["dropout"]["total_steps"] > 0
    assert "auto" not in Config({"training": block}).to_str()
