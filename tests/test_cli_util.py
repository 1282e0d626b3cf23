"""The command line's free words and --resume conflicts, parsed by plain functions (no command run)."""

from pathlib import Path

import pytest

from recipe_cli.cli.util import FreeWords, check_resume_options, components_and_data, parse_free_words
from recipe_cli.errors import UsageError
from recipe_cli.training.resume import EXTENDING


def test_free_words_split_into_data_overrides_and_rehearse():
    free = parse_free_words(["ner", "a.conll", "--training.max_epochs", "5", "b.jsonl", "--rehearse", "raw.txt"])
    assert free.words == [Path("ner"), Path("a.conll"), Path("b.jsonl")]
    assert free.overrides == {"training.max_epochs": 5}
    assert free.rehearse == Path("raw.txt")


def test_bare_rehearse_means_the_training_texts():
    assert parse_free_words(["ner", "a.conll", "--rehearse"]).rehearse is True
    assert parse_free_words(["ner", "a.conll", "--rehearse=r.jsonl"]).rehearse == Path("r.jsonl")
    assert parse_free_words(["ner", "a.conll"]).rehearse is None


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
        check_resume_options(Path("out"), parse_free_words(["--rehearse"]), {}, EXTENDING)
