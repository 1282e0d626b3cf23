"""The command line's free words, --rehearse [RAW] and --resume conflicts, parsed by plain functions and the command
class (no training run)."""

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from recipe_cli.cli.util import (
    TRAINING_TEXTS,
    FreeWords,
    OptionalValueCommand,
    RunOptions,
    check_resume_options,
    cli_overrides,
    components_and_data,
    config_and_code,
    config_file_form,
    parse_free_words,
    run_config,
    set_verbose,
)
from recipe_cli.config.overrides import EXTENDING
from recipe_cli.errors import RecipeError, UsageError


def test_free_words_split_into_data_and_overrides():
    free = parse_free_words(["ner", "a.conll", "--training.max_epochs", "5", "b.jsonl", "--system.seed=3"])
    assert free.words == [Path("ner"), Path("a.conll"), Path("b.jsonl")]
    assert free.overrides == {"training.max_epochs": 5, "system.seed": 3}


def _parsed(args):
    """--rehearse and the free words as recipe-train's own command class parses them."""
    app = typer.Typer()
    seen = {}

    @app.command(cls=OptionalValueCommand, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def main(
        ctx: typer.Context, words: list[str] | None = typer.Argument(None), rehearse: str | None = typer.Option(None)
    ):
        seen.update(words=(words or []) + ctx.args, rehearse=rehearse)

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return seen["rehearse"], seen["words"]


@pytest.mark.parametrize(
    "args,rehearse,words",
    [
        (["ner", "a.conll", "--rehearse", "raw.txt"], "raw.txt", ["ner", "a.conll"]),
        (["ner", "a.conll", "--rehearse=r.jsonl"], "r.jsonl", ["ner", "a.conll"]),
        (["ner", "--rehearse", "raw.txt", "a.conll"], "raw.txt", ["ner", "a.conll"]),
        # Bare: last, or before another option: the training texts.
        (["ner", "a.conll", "--rehearse"], TRAINING_TEXTS, ["ner", "a.conll"]),
        (["ner", "a.conll", "--rehearse", "--training.max_epochs", "2"], TRAINING_TEXTS,
         ["ner", "a.conll", "--training.max_epochs", "2"]),
        (["ner", "a.conll", "--rehearse", "-o", "out"], TRAINING_TEXTS, ["ner", "a.conll", "-o", "out"]),
        (["ner", "a.conll"], None, ["ner", "a.conll"]),
    ],
)  # fmt: skip
def test_rehearse_with_or_without_raw(args, rehearse, words):
    assert _parsed(args) == (rehearse, words)


def test_rehearse_becomes_the_rehearsal_settings():
    data = [Path("a.conll")]
    assert "training.rehearsal.enabled" not in cli_overrides(data=data, dev=None, lang=None, seed=None)
    on_training_texts = cli_overrides(data=data, dev=None, lang=None, seed=None, rehearse=TRAINING_TEXTS)
    assert on_training_texts["training.rehearsal.enabled"] is True and "paths.rehearse" not in on_training_texts
    raw = cli_overrides(data=data, dev=None, lang=None, seed=None, rehearse="raw.txt")
    assert (raw["training.rehearsal.enabled"], raw["paths.rehearse"]) == (True, "raw.txt")


def test_rehearse_is_declared_in_help():
    from recipe_cli.cli.train import app

    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--rehearse" in result.output and "[RAW]" in result.output


def test_an_override_without_a_dot_is_a_usage_error():
    with pytest.raises(UsageError, match="E003"):
        parse_free_words(["ner", "a.conll", "--epochs", "5"])


def test_components_and_data():
    assert components_and_data(parse_free_words(["tagger,parser", "a.conllu"])) == (
        ["tagger", "parser"],
        [Path("a.conllu")],
    )
    with pytest.raises(UsageError, match="E058"):
        components_and_data(parse_free_words(["ner"]))
    with pytest.raises(UsageError, match="E001"):
        components_and_data(parse_free_words(["nerr", "a.conll"]))


def test_resume_takes_only_extending_settings():
    check_resume_options(Path("out"), parse_free_words(["--training.max_epochs", "9"]), {"--dev": []}, EXTENDING)
    with pytest.raises(UsageError, match="E060") as e:
        check_resume_options(Path("out"), FreeWords(), {"--seed": 3, "--dev": [], "--lang": None}, EXTENDING)
    assert "--seed" in str(e.value) and "--dev" not in str(e.value)
    with pytest.raises(UsageError, match="COMPONENT or DATA"):
        check_resume_options(Path("out"), parse_free_words(["ner", "a.conll"]), {}, EXTENDING)
    with pytest.raises(UsageError, match="--rehearse"):
        check_resume_options(Path("out"), FreeWords(), {"--rehearse": TRAINING_TEXTS}, EXTENDING)


def test_run_config_from_the_command_line(tmp_path):
    """The config and output folder of a fresh run: the options become settings, the free overrides win, the
    output folder defaults to DATA-COMPONENT."""
    free = parse_free_words(["tagger,parser", "ud.conllu", "--training.max_epochs", "3"])
    options = RunOptions(dev=[Path("dev.conllu")], seed=7, data_format="conllu", recipe="literal")
    training_config, out = run_config(free, options, {})
    config = training_config.config
    assert (config["paths"]["train"], config["paths"]["dev"]) == ("ud.conllu", "dev.conllu")
    assert config["system"]["seed"] == 7 and config["training"]["max_epochs"] == 3
    assert config["corpora"]["train"]["format"] == config["corpora"]["dev"]["format"] == "conllu"
    # --recipe literal: the letter's dropout schedule (0.6 decaying), not the packaged constant.
    assert config["training"]["dropout"]["start"] == 0.6
    assert out == Path("ud-tagger+parser")
    assert run_config(free, RunOptions(output=tmp_path / "o"), {})[1] == tmp_path / "o"
    assert RunOptions(data_format="iob", rehearse="").given()["--format"] == "iob"
    assert RunOptions(rehearse="").given()["--rehearse"] == ""


PROJECT_CONFIG = Path(__file__).parent / "data" / "projects" / "ner_fashion_brands" / "configs" / "config.cfg"


def test_config_file_form_is_told_by_the_first_word_s_suffix():
    assert config_file_form(parse_free_words(["configs/config.cfg", "--paths.train", "t.spacy"])) == Path(
        "configs/config.cfg"
    )
    assert config_file_form(parse_free_words(["my.INI"])) == Path("my.INI")
    assert config_file_form(parse_free_words(["ner", "config.cfg"])) is None
    assert config_file_form(parse_free_words(["--paths.train", "x.cfg"])) is None
    assert config_file_form(FreeWords()) is None


def test_short_c_is_config_or_spacy_s_code_by_the_form():
    cfg, data = parse_free_words(["config.cfg"]), parse_free_words(["ner", "a.conll"])
    assert config_and_code(data, Path("my.cfg"), None, None) == (Path("my.cfg"), None)
    assert config_and_code(cfg, Path("functions.py"), None, None) == (None, Path("functions.py"))
    assert config_and_code(cfg, None, None, Path("f.py")) == (None, Path("f.py"))
    with pytest.raises(UsageError, match=r"\[E007\] -c and --config"):
        config_and_code(data, Path("a.cfg"), Path("b.cfg"), None)
    with pytest.raises(UsageError, match=r"\[E007\] -c \(spacy train's --code\) and --code"):
        config_and_code(cfg, Path("a.py"), None, Path("b.py"))


def test_run_config_of_a_config_file():
    """recipe-train CONFIG.cfg: the file's pipeline and data settings, the recipe's training settings (said line
    by line), the command line's overrides last; the output folder defaults to CONFIG-train."""
    free = parse_free_words([str(PROJECT_CONFIG), "--paths.train", "t.spacy", "--paths.dev", "d.spacy",
                             "--training.max_epochs", "3"])  # fmt: skip
    training_config, out = run_config(free, RunOptions(seed=4), {})
    config = training_config.config
    assert out == Path("config-train")
    assert config["nlp"]["pipeline"] == ["tok2vec", "ner"] and config["system"]["seed"] == 4
    assert (config["paths"]["train"], config["paths"]["dev"]) == ("t.spacy", "d.spacy")
    assert config["corpora"]["train"]["max_length"] == 2000  # the file's, its reader now the recipe's
    assert config["training"]["max_epochs"] == 3 and config["training"]["optimizer"]["use_averages"] is True
    assert training_config.config_path == PROJECT_CONFIG
    assert "training.optimizer.learn_rate" not in str(training_config.replaced)  # one line for a block unlike ours
    assert training_config.departures == ["training.max_epochs: 3, recipe: 30"]

    # spacy train's --paths.vectors loads vectors; the recipe's --vectors also switches them on in the model.
    words = [str(PROJECT_CONFIG), "--paths.vectors", "v.npz"]
    spacy_style, _ = run_config(parse_free_words(words), RunOptions(), {})
    embed = spacy_style.config["components"]["tok2vec"]["model"]["embed"]
    assert (spacy_style.config["paths"]["vectors"], embed["include_static_vectors"]) == ("v.npz", False)
    ours, _ = run_config(parse_free_words(words[:1]), RunOptions(vectors=Path("v.npz")), {})
    assert ours.config["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] is True

    kept, _ = run_config(free, RunOptions(keep_training_settings=True), {})
    assert kept.replaced == [] and kept.config["training"]["optimizer"]["use_averages"] is False
    assert kept.config["training"]["dropout"] == 0.1


@pytest.mark.parametrize(
    "words,options,code",
    [
        ([str(PROJECT_CONFIG), "train.spacy"], RunOptions(), "E004"),
        ([str(PROJECT_CONFIG)], RunOptions(dev=[Path("d.spacy")], data_format="spacy"), "E005"),
        ([str(PROJECT_CONFIG)], RunOptions(label_config=Path("l.xml")), "E005"),
        ([str(PROJECT_CONFIG)], RunOptions(config=Path("other.cfg")), "E007"),
        (["ner", "a.conll"], RunOptions(keep_training_settings=True), "E006"),
        ([str(PROJECT_CONFIG.parent.parent / "project.yml"), "a.conll"], RunOptions(), "E008"),
    ],
)
def test_config_file_form_refuses_what_belongs_to_the_other(words, options, code):
    with pytest.raises(UsageError, match=code):
        run_config(parse_free_words(words), options, {})


def test_config_file_without_a_pipeline(tmp_path):
    config = tmp_path / "empty.cfg"
    config.write_text('[nlp]\nlang = "en"\npipeline = []\n')
    with pytest.raises(RecipeError, match=rf"\[E019\] {config}: \[nlp\] pipeline names no component"):
        run_config(parse_free_words([str(config)]), RunOptions(), {})
    with pytest.raises(RecipeError, match=r"\[E010\] Config file not found: nope.cfg"):
        run_config(parse_free_words(["nope.cfg"]), RunOptions(), {})


def test_spacy_train_s_options_are_declared_in_help():
    """spacy train's spellings (-o/--output/--output-path, -c, --gpu-id/-g, -V/-VV/--verbose) and
    --keep-training-settings show in --help."""
    from recipe_cli.cli.train import app

    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for spelling in ("--output-path", "--keep-training-settings", "--verbose", "-VV", "--gpu-id", "spacy train's -c"):
        assert spelling in result.output, spelling


def test_verbose_sets_spacy_s_logger_to_debug(monkeypatch):
    import logging

    import spacy

    monkeypatch.setattr(spacy.util.logger, "level", logging.INFO)
    set_verbose(False)
    assert spacy.util.logger.level == logging.INFO
    set_verbose(True)
    assert spacy.util.logger.level == logging.DEBUG
