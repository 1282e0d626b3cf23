"""The recipes a run starts from: the packaged defaults are what the README's recipe table says they are, and
--recipe literal reproduces RECIPE.md §1-§5 exactly, whatever the defaults become."""

import re
from pathlib import Path

import pytest
from spacy.util import registry
from thinc.api import Config
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.config.build import COMPONENTS, build_config, recipe_config

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
runner = CliRunner()

# RECIPE.md §1-§5, written out here from the spec (not read from any config).
LITERAL = {
    "dropout": {"@schedules": "recipe.linear_decay.v1", "start": 0.6, "stop": 0.2, "decay": 1e-4},
    "batcher": {
        "@batchers": "spacy.batch_by_sequence.v1",
        "get_length": None,
        "size": {"@schedules": "compounding.v1", "start": 1, "stop": "auto", "compound": 1.001, "t": 0.0},
    },
    "optimizer": {"@optimizers": "Adam.v1", "learn_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                  "L2": 0.01, "L2_is_weight_decay": True, "grad_clip": 1.0, "use_averages": True},
}  # fmt: skip


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_literal_recipe_is_recipe_md_to_the_letter(component):
    config = build_config([component], recipe_name="literal")
    training = config.config["training"]
    assert {key: training[key] for key in LITERAL} == LITERAL
    # The literal recipe is the start: no departure from it is reported.
    assert config.departures == []
    # Everything else is the packaged config's.
    packaged = recipe_config([component])
    assert {k: v for k, v in config.config.items() if k != "training"} == {
        k: v for k, v in packaged.items() if k != "training"
    }
    assert {k: v for k, v in training.items() if k not in LITERAL} == {
        k: v for k, v in packaged["training"].items() if k not in LITERAL
    }


def test_the_literal_dropout_and_batch_sizes_follow_recipe_md_arithmetic():
    training = build_config(["ner"], recipe_name="literal").config["training"]
    dropout = registry.resolve({"d": training["dropout"]})["d"]
    rates = [next(dropout) for _ in range(4_001)]
    assert (rates[0], round(rates[1_000], 10), rates[4_000]) == (0.6, 0.5, 0.2)
    size = dict(training["batcher"]["size"], stop=16)
    sizes = registry.resolve({"s": size})["s"]
    steps = [int(next(sizes)) for _ in range(2_775)]
    # compounding(1, 16, 1.001) first reaches 16 after ceil(ln 16 / ln 1.001) = 2,774 batches.
    assert steps.index(16) == 2_774


def test_a_config_file_and_the_command_line_still_win_over_the_literal_recipe(tmp_path):
    user = tmp_path / "my.cfg"
    Config({"training": {"optimizer": {"@optimizers": "Adam.v1", "learn_rate": 0.01}}}).to_disk(user)
    config = build_config(["ner"], config_path=user, overrides={"training.dropout": 0.1}, recipe_name="literal")
    training = config.config["training"]
    assert training["dropout"] == 0.1
    assert training["optimizer"]["learn_rate"] == 0.01
    # What the user's block lacks comes from the literal recipe.
    assert training["optimizer"]["grad_clip"] == 1.0 and training["optimizer"]["use_averages"] is True
    assert any(line.startswith("training.dropout: 0.1") for line in config.departures)


def test_recipe_literal_on_the_command_line(tmp_path):
    args = ["ner", str(DATA / "wnut17-train.conll"), "-o", str(tmp_path / "out"), "--dry-run"]
    result = runner.invoke(train_app, [*args, "--recipe", "literal"])
    assert result.exit_code == 0, result.output
    assert "departs from the recipe" not in result.output
    wrong = runner.invoke(train_app, [*args, "--recipe", "letter"])
    assert wrong.exit_code == 2 and "'letter'" in wrong.output
    resumed = runner.invoke(train_app, ["--resume", str(tmp_path / "out"), "--recipe", "literal"])
    assert resumed.exit_code == 2 and "--recipe" in resumed.output


# The `name = value` mentions of the table that name another option, not a default: a constant batch size
# (start = "auto") and linear_decay_share's planned updates (total_steps = "auto").
ALTERNATIVES = {("start", '"auto"'), ("total_steps", '"auto"')}


def _readme_claims() -> list[tuple[str, str]]:
    """Every `name = value` the README's recipe table gives as a default (its setting and default columns)."""
    text = (ROOT / "README.md").read_text(encoding="utf8")
    table = text.split("## The recipe and its settings", 1)[1].split("\n\n", 3)[2]
    assert table.startswith("| recipe element | setting | default |"), table[:80]
    claims = []
    for row in table.splitlines()[2:]:
        for code in re.findall(r"`([^`]+)`", row):
            match = re.fullmatch(r"(\w+) = (.+)", code)
            if match and (match.group(1), match.group(2)) not in ALTERNATIVES:
                claims.append((match.group(1), match.group(2)))
    return claims


def _find(block: dict, key: str, path: str = "training") -> list[tuple[str, object]]:
    found = []
    for name, value in block.items():
        if name == key and not isinstance(value, dict):
            found.append((f"{path}.{name}", value))
        elif isinstance(value, dict):
            found.extend(_find(value, key, f"{path}.{name}"))
    return found


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_packaged_defaults_are_what_the_readme_table_says(component):
    claims = _readme_claims()
    assert len(claims) >= 15, claims
    training = recipe_config([component])["training"]
    for name, text in claims:
        expected = Config().from_str(f"[x]\nv = {text}")["x"]["v"]
        found = _find(training, name)
        assert found, f"{name} is in the README's table but not in {component}'s [training]"
        # A name may appear in several blocks (start, stop): the README's value is one of them.
        assert expected in [value for _, value in found], (name, text, found)
    # The functions the table names are the packaged ones.
    assert training["batcher"]["@batchers"] == "spacy.batch_by_sequence.v1"
    assert training["batcher"]["size"]["@schedules"] == "compounding.v1"
    assert training["optimizer"]["@optimizers"] == "recipe.SparseAdam.v2"
    assert training["dropout"]["@schedules"] == "recipe.linear_decay.v1"
