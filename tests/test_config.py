import subprocess
import sys
from pathlib import Path

import pytest
from spacy.util import load_model_from_config, registry
from thinc.api import Config

from recipe_cli.cli.util import cli_overrides
from recipe_cli.config.build import (
    AUTO,
    COMPONENTS,
    LITERAL_RECIPE_FILE,
    apply_overrides,
    build_config,
    configs_dir,
    default_config_path,
    departures,
    parse_components,
    recipe_config,
)
from recipe_cli.config.environment import ENV_OVERRIDES, env_overrides
from recipe_cli.config.overrides import parse_overrides
from recipe_cli.config.schemas import ConfigSchemaTraining
from recipe_cli.errors import RecipeError, UsageError


def _resolved_training(config: Config) -> dict:
    config = Config(config)
    config["training"]["batcher"]["size"]["stop"] = 16
    config["paths"]["train"] = config["paths"]["dev"] = "unused.spacy"
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    return registry.resolve(nlp.config.interpolate()["training"], schema=ConfigSchemaTraining)


@pytest.mark.parametrize("component", COMPONENTS)
def test_packaged_config_is_complete_and_the_recipe(component):
    config = recipe_config([component])
    assert config["training"]["batcher"]["size"]["stop"] == AUTO
    T = _resolved_training(config)
    assert T["optimizer"].learn_rate == pytest.approx(0.001)
    assert T["optimizer"].b1 == pytest.approx(0.9)
    assert T["optimizer"].b2 == pytest.approx(0.999)
    assert T["optimizer"].grad_clip == pytest.approx(1.0)
    assert T["optimizer"].L2 == pytest.approx(0.01)
    assert T["optimizer"].averages is not None  # use_averages = true
    assert T["optimizer"].L2_is_weight_decay is True
    # Dropout 0.2 at every update (the default departs from the recipe's decay: README, docs/evidence-3h.md).
    assert {next(T["dropout"]) for _ in range(5_000)} == {0.2}
    assert T["max_epochs"] > 0


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_setting_of_the_packaged_config_is_commented(component):
    """Each section of settings has a comment above it or above its keys (spaCy's default_config style)."""
    text = default_config_path(component).read_text()
    assert text.startswith("# recipe-train:")
    assert f"recipe-train {component} data.json" in text
    # Sections that hold settings (not only a function's @name), and whether a comment sits above or in them.
    uncommented, section, explained, settings, above = [], None, False, False, False
    for line in [line.strip() for line in text.splitlines()] + ["[end]"]:
        if line.startswith("["):
            if settings and not explained:
                uncommented.append(section)
            section, explained, settings = line, above, False
        elif line.startswith("#"):
            explained = explained or section is not None
        elif line and not line.startswith("@"):
            settings = True
        above = line.startswith("#") or (above and not line)
    assert uncommented == []


def test_comma_list_builds_one_pipeline():
    config = recipe_config(["tagger", "parser"])
    assert config["nlp"]["pipeline"] == ["tok2vec", "tagger", "parser"]
    assert set(config["components"]) == {"tok2vec", "tagger", "parser"}
    assert config["corpora"]["train"]["sents_per_doc"] == 10
    config["training"]["batcher"]["size"]["stop"] = 16
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    weights = nlp.config["training"]["score_weights"]
    assert weights["tag_acc"] > 0 and weights["dep_las"] > 0
    assert sum(w for w in weights.values() if w) == pytest.approx(1.0)


def test_comma_list_without_shared_tok2vec():
    config = recipe_config(["textcat", "ner"])
    assert config["nlp"]["pipeline"] == ["tok2vec", "textcat", "ner"]


@pytest.mark.parametrize(
    "spec,expected",
    [("ner", ["ner"]), ("tagger,parser", ["tagger", "parser"]), (" tagger , senter ", ["tagger", "senter"])],
)
def test_parse_components(spec, expected):
    assert parse_components(spec) == expected


@pytest.mark.parametrize("spec", ["nre", "tagger,foo", "", "ner,ner"])
def test_parse_components_rejects(spec):
    with pytest.raises(UsageError):
        parse_components(spec)


def test_parse_overrides():
    args = ["--training.max_epochs", "5", "--paths.train=x.json", "--training.dropout", "0.3", "--nlp.flag"]
    assert parse_overrides(args) == {
        "training.max_epochs": 5,
        "paths.train": "x.json",
        "training.dropout": 0.3,
        "nlp.flag": True,
    }


@pytest.mark.parametrize("args", [["--epochs", "5"], ["training.max_epochs", "5"]])
def test_parse_overrides_rejects(args):
    with pytest.raises(UsageError):
        parse_overrides(args)


@pytest.fixture
def user_config(tmp_path) -> Path:
    """A user's config from `spacy init config`, with its learn rate set to 0.002."""
    path = tmp_path / "user.cfg"
    subprocess.run([sys.executable, "-m", "spacy", "init", "config", str(path), "-p", "ner", "-F"], check=True,
                   capture_output=True)  # fmt: skip
    config = Config().from_disk(path, interpolate=False)
    config["training"]["optimizer"]["learn_rate"] = 0.002
    config.to_disk(path)
    return path


def _learn_rate(tc) -> float:
    return tc.config["training"]["optimizer"]["learn_rate"]


def test_precedence_packaged_config_env_cli(user_config):
    assert _learn_rate(build_config(["ner"])) == 0.001
    assert _learn_rate(build_config(["ner"], config_path=user_config)) == 0.002
    env = {"RECIPE_LEARN_RATE": "0.003"}
    assert _learn_rate(build_config(["ner"], config_path=user_config, environ=env)) == 0.003
    cli = {"training.optimizer.learn_rate": 0.004}
    assert _learn_rate(build_config(["ner"], config_path=user_config, environ=env, overrides=cli)) == 0.004
    assert _learn_rate(build_config(["ner"], environ=env, overrides=cli)) == 0.004
    assert _learn_rate(build_config(["ner"], environ=env)) == 0.003


def test_spacy_config_overrides_is_environment_level():
    env = {"SPACY_CONFIG_OVERRIDES": "--training.max_epochs 7 --training.patience 2"}
    tc = build_config(["ner"], environ=env)
    assert tc.config["training"]["max_epochs"] == 7
    assert tc.config["training"]["patience"] == 2
    tc = build_config(["ner"], environ=env, overrides={"training.max_epochs": 9})
    assert tc.config["training"]["max_epochs"] == 9


def test_recipe_variables_beat_spacy_config_overrides():
    env = {"SPACY_CONFIG_OVERRIDES": "--training.optimizer.learn_rate 0.01", "RECIPE_LEARN_RATE": "0.02"}
    assert _learn_rate(build_config(["ner"], environ=env)) == 0.02


@pytest.mark.parametrize("var,path", sorted(ENV_OVERRIDES.items()))
def test_every_environment_variable_reaches_its_setting(var, path):
    tc = build_config(["ner"], environ={var: "0.125"})
    node = tc.config
    for part in path.split("."):
        node = node[part]
    assert node == 0.125
    assert tc.env_applied == {path: (var, 0.125)}


@pytest.mark.parametrize("value", ["abc", "", "1e", "nan", "inf"])
def test_bad_environment_value_names_the_variable(value):
    with pytest.raises(RecipeError, match="RECIPE_DROPOUT_FROM"):
        build_config(["ner"], environ={"RECIPE_DROPOUT_FROM": value})


def test_environment_variable_for_a_missing_setting_is_an_error():
    config = recipe_config(["ner"])
    config = apply_overrides(config, {"training.dropout": 0.1})
    with pytest.raises(RecipeError, match="RECIPE_DROPOUT_DECAY.*training.dropout"):
        env_overrides(config, {"RECIPE_DROPOUT_DECAY": "0.001"})


def test_user_config_departures_are_listed(user_config):
    tc = build_config(["ner"], config_path=user_config)
    # Every departure the file makes, spaCy's own limits of a run among them (its patience counts steps).
    assert tc.departures == [
        "training.dropout: 0.1, recipe: recipe.linear_decay.v1(start=0.2, stop=0.2, decay=0.0)",
        "training.batcher: spacy.batch_by_words.v1(size=compounding.v1(start=100, stop=1000, compound=1.001, t=0.0), "
        "discard_oversize=False, tolerance=0.2, get_length=null), recipe: spacy.batch_by_sequence.v1("
        "size=compounding.v1(start=1, stop=auto, compound=1.001, t=0.0), get_length=null)",
        "training.optimizer.learn_rate: 0.002, recipe: 0.001",
        "training.optimizer.use_averages: False, recipe: True",
        "training.eval_frequency: 200, recipe: 0",
        "training.max_epochs: 0, recipe: 30",
        "training.patience: 1600, recipe: 5",
        "training.max_steps: 20000, recipe: 0",
    ]
    # What the user's config lacks comes from the recipe; its reader is swapped for ours.
    assert tc.config["corpora"]["train"]["@readers"] == "recipe.Corpus.v2"
    assert tc.config["corpora"]["train"]["holdout"] == 0.1
    assert any("spacy.Corpus.v1 → recipe.Corpus.v2" in note for note in tc.notes)


def test_packaged_config_has_no_departures():
    assert build_config(["ner"]).departures == []
    tc = build_config(["ner"], overrides={"training.optimizer.L2": 1e-6})
    assert tc.departures == ["training.optimizer.L2: 1e-06, recipe: 0.01"]
    # thinc's dense Adam.v1 with the recipe's settings is the letter's optimizer: no departure; with other settings,
    # the lines name the settings (compared with the letter's block), not the whole block.
    assert build_config(["ner"], overrides={"training.optimizer.@optimizers": "Adam.v1"}).departures == []
    dense = {"training.optimizer.@optimizers": "Adam.v1", "training.optimizer.use_averages": False}
    assert build_config(["ner"], overrides=dense).departures == ["training.optimizer.use_averages: False, recipe: True"]
    assert departures(recipe_config(["tagger"]), recipe_config(["tagger"])) == []


def test_departures_from_every_source(tmp_path):
    path = tmp_path / "user.cfg"
    path.write_text("[training]\nmax_steps = 500\n")
    tc = build_config(["ner"], config_path=path, environ={"RECIPE_BATCH_TO": "8"}, overrides={"training.patience": 2})
    assert tc.departures == [
        "training.batcher.size.stop: 8.0, recipe: auto",
        "training.patience: 2, recipe: 5",
        "training.max_steps: 500, recipe: 0",
    ]


@pytest.mark.parametrize("components", [["ner"], ["tagger", "parser"], ["textcat"]])
def test_the_recipe_to_the_letter_departs_from_nothing(components):
    literal = configs_dir() / LITERAL_RECIPE_FILE
    assert build_config(components, config_path=literal).departures == []
    assert build_config(components, config_path=literal, recipe_name="literal").departures == []
    assert build_config(components, recipe_name="literal").departures == []
    # Against the letter, the packaged default's constant dropout is a departure.
    default = {"training.dropout.start": 0.2, "training.dropout.decay": 0.0}
    assert build_config(components, recipe_name="literal", overrides=default).departures == [
        "training.dropout.decay: 0.0, recipe: 0.0001",
        "training.dropout.start: 0.2, recipe: 0.6",
    ]
    # From the packaged defaults, a setting that is neither theirs nor the letter's is one.
    assert build_config(components, config_path=literal, overrides={"training.dropout.stop": 0.1}).departures == [
        "training.dropout.decay: 0.0001, recipe: 0.0",
        "training.dropout.start: 0.6, recipe: 0.2",
        "training.dropout.stop: 0.1, recipe: 0.2",
    ]


def test_user_config_without_training_section_is_filled(tmp_path):
    path = tmp_path / "min.cfg"
    path.write_text('[nlp]\nlang = "de"\n')
    tc = build_config(["tagger"], config_path=path)
    assert tc.config["nlp"]["lang"] == "de"
    assert tc.config["nlp"]["pipeline"] == ["tok2vec", "tagger"]
    assert tc.config["training"]["optimizer"]["use_averages"] is True
    assert tc.departures == []


def test_cli_overrides_hold_out_dev_data_without_dev():
    assert cli_overrides(data=[Path("d.json")], dev=None, lang=None, seed=None) == {
        "paths.train": "d.json",
        "paths.dev": "d.json",
        "corpora.train.part": "train",
        "corpora.dev.part": "heldout",
    }
    assert cli_overrides(data=[Path("d.json")], dev=[Path("v.json")], lang="de", seed=3) == {
        "paths.train": "d.json",
        "paths.dev": "v.json",
        "nlp.lang": "de",
        "system.seed": 3,
    }
    several = cli_overrides(data=[Path("a.conll"), Path("b.jsonl")], dev=[Path("v.iob")], lang=None, seed=None)
    assert several["paths.train"] == ["a.conll", "b.jsonl"] and several["paths.dev"] == "v.iob"


def test_missing_config_file(tmp_path):
    with pytest.raises(RecipeError, match="Config file not found"):
        build_config(["ner"], config_path=tmp_path / "nope.cfg")


def test_unparsable_config_file(tmp_path):
    path = tmp_path / "bad.cfg"
    path.write_text("[training\nmax_epochs = 3\n")
    with pytest.raises(RecipeError, match="bad.cfg"):
        build_config(["ner"], config_path=path)


def test_misspelled_section_is_refused_with_the_nearest_name(tmp_path):
    path = tmp_path / "typo.cfg"
    path.write_text("[trainig]\nmax_epochs = 2\n")
    with pytest.raises(RecipeError) as error:
        build_config(["ner"], config_path=path)
    assert str(error.value) == (
        f"[E017] Config file {path}: [trainig] is not a section of a spaCy config (did you mean [training]?); its "
        "sections are paths, system, training, nlp, pretraining, components, corpora, initialize."
    )


def test_a_section_the_config_refers_to_is_the_users_own(user_config, tmp_path):
    # A variables section, as spaCy's docs use them: [vars] with ${vars.width} elsewhere.
    path = tmp_path / "vars.cfg"
    text = user_config.read_text().replace("width = 96", "width = ${vars.width}", 1)
    path.write_text(text + "\n[vars]\nwidth = 64\n")
    tc = build_config(["ner"], config_path=path)
    assert tc.config.interpolate()["components"]["tok2vec"]["model"]["encode"]["width"] == 64
    path.write_text(text + "\n[vars]\nwidth = 64\n\n[xyz]\nanything = 1\n")
    with pytest.raises(RecipeError, match=r"\[xyz\] is not a section of a spaCy config; its sections are"):
        build_config(["ner"], config_path=path)


def test_training_plain_settings_are_checked_before_the_data_is_read():
    """check_settings: [training]'s plain settings (not its registered blocks) against the schema, each left out
    given its default; a plain float dropout and the rehearsal block pass, a wrong type is one E012 line."""
    from recipe_cli.training.setup import check_settings

    config = recipe_config(["ner"])
    config["training"]["dropout"] = 0.1
    settings = check_settings(config)
    assert settings["dropout"] == 0.1 and settings["shuffle_buffer"] == config["training"]["shuffle_buffer"] > 0
    assert settings["unknown_labels"] == "refuse"
    assert settings["rehearsal"].enabled is False and "optimizer" not in settings and "batcher" not in settings
    config["training"]["shuffle_buffer"] = "many"
    with pytest.raises(RecipeError) as e:
        check_settings(config)
    assert str(e.value).startswith("[E012]") and "training.shuffle_buffer: Input should be a valid integer" in str(
        e.value
    )
    config["training"]["shuffle_buffer"] = 0
    config["training"]["max_epochs"] = config["training"]["max_steps"] = config["training"]["patience"] = 0
    with pytest.raises(RecipeError, match=r"^\[E016\]"):
        check_settings(config)


def _spacy_config(tmp_path, pipeline: str = "ner") -> Path:
    path = tmp_path / "spacy.cfg"
    subprocess.run([sys.executable, "-m", "spacy", "init", "config", str(path), "-p", pipeline, "-F"], check=True,
                   capture_output=True)  # fmt: skip
    return path


def test_recipe_training_replaces_spacy_s_generated_settings(tmp_path):
    """recipe-train CONFIG.cfg: every setting of RECIPE.md's that spacy init config states, and its console logger,
    become the recipe's; each replaced value is one line; the rest of [training] is the file's."""
    from recipe_cli.config.build import read_config, recipe_training

    user = read_config(_spacy_config(tmp_path))
    recipe = recipe_config(["ner"])
    replaced, lines = recipe_training(user, recipe)
    for key in ("dropout", "batcher", "optimizer", "accumulate_gradient", "eval_frequency", "max_epochs", "patience",
                "max_steps", "logger"):  # fmt: skip
        assert replaced["training"][key] == recipe["training"][key], key
    for key in ("score_weights", "frozen_components", "train_corpus", "seed"):
        assert replaced["training"][key] == user["training"][key], key
    assert {line.split(":")[0] for line in lines} == {
        "training.dropout", "training.batcher", "training.optimizer", "training.eval_frequency",
        "training.max_epochs", "training.patience", "training.max_steps", "training.logger",
    }  # fmt: skip
    assert f"training.dropout: {user['training']['dropout']} → recipe.linear_decay.v1(start=0.2" in lines[0]
    # A logger of the user's own (not spaCy's console table) stays; the literal recipe replaces with its own blocks.
    user["training"]["logger"] = {"@loggers": "spacy.MLflowLogger.v2", "run_name": "mine"}
    replaced, lines = recipe_training(user, apply_overrides(recipe, {"training.dropout.start": 0.6}))
    assert replaced["training"]["logger"]["@loggers"] == "spacy.MLflowLogger.v2"
    assert replaced["training"]["dropout"]["start"] == 0.6
    assert not any(line.startswith("training.logger") for line in lines)


def test_build_config_replaces_or_keeps_the_file_s_training(tmp_path):
    path = _spacy_config(tmp_path, "textcat")
    replaced = build_config(["textcat"], config_path=path, replace_training=True)
    kept = build_config(["textcat"], config_path=path)
    assert replaced.replaced and not kept.replaced
    assert replaced.departures == [] and "training.dropout: 0.1, recipe: recipe.linear_decay.v1(" in kept.departures[0]
    assert replaced.config["training"]["optimizer"]["use_averages"] is True
    assert kept.config["training"]["optimizer"]["use_averages"] is False
    # The file's pipeline and main score, either way.
    for tc in (replaced, kept):
        assert tc.config["nlp"]["pipeline"] == ["textcat"]
        assert tc.config["training"]["score_weights"] == read_spacy_weights(path)


def read_spacy_weights(path: Path) -> dict:
    return Config().from_disk(path, interpolate=False)["training"]["score_weights"]


def test_replaced_dev_reader_beside_a_training_reader_of_the_file_s_own():
    """spacy.Corpus.v1 becomes recipe.Corpus.v2; its settings that follow the training reader's
    (${corpora.train.sents_per_doc}) take the recipe's values where the training reader is the file's own."""
    from recipe_cli.config.build import merge_user_config

    user = Config({"corpora": {"train": {"@readers": "my.Reader.v1", "path": "t"},
                               "dev": {"@readers": "spacy.Corpus.v1", "path": "d", "max_length": 0}}})  # fmt: skip
    recipe = recipe_config(["ner"])
    merged, _ = merge_user_config(recipe, user)
    dev = merged["corpora"]["dev"]
    assert dev["@readers"] == "recipe.Corpus.v2" and (dev["path"], dev["max_length"]) == ("d", 0)
    assert dev["sents_per_doc"] == recipe["corpora"]["train"]["sents_per_doc"]
    assert not any("${corpora." in str(value) for value in dev.values())
    Config(merged).interpolate()  # every reference leads somewhere
    # Both replaced: the dev reader still follows the training reader.
    user["corpora"]["train"] = {"@readers": "spacy.Corpus.v1", "path": "t"}
    merged, _ = merge_user_config(recipe, user)
    assert merged["corpora"]["dev"]["sents_per_doc"] == "${corpora.train.sents_per_doc}"


def test_a_pipeline_of_the_file_s_own_takes_no_score_weights_of_the_recipe():
    from recipe_cli.config.build import merge_user_config

    user = recipe_config(["textcat"])
    del user["training"]["score_weights"]
    merged, _ = merge_user_config(recipe_config(["ner"]), user)
    assert "score_weights" not in merged["training"]
