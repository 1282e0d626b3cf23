"""Dotted config overrides from command-line words: --section.key value, --section.key=value."""

import json
from pathlib import Path
from typing import Any

from .errors import Errors, UsageError


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """Turn ["--training.max_epochs", "5", "--x.y=z", "--x.flag"] into {"training.max_epochs": 5, ...}.

    Values are read as JSON where they parse (numbers, true/false/null, lists), else as strings,
    as spaCy's CLI does. A word without a leading "--" or a name without a dot is an error.
    """
    result: dict[str, Any] = {}
    args = list(args)
    while args:
        opt = args.pop(0)
        if not opt.startswith("--"):
            raise UsageError(Errors.E003.format(arg=opt, reason="expected --section.key value"))
        name = opt[2:]
        if "=" in name:
            name, value = name.split("=", 1)
        elif not args or args[0].startswith("--"):
            value = "true"  # a bare flag
        else:
            value = args.pop(0)
        if "." not in name:
            raise UsageError(Errors.E003.format(arg=opt, reason="no such option, and not a dotted config path"))
        result[name] = _parse_value(value)
    return result


def split_data_words(words: list[str]) -> tuple[list[Path], list[str]]:
    """Split free command-line words into data paths and override words.

    ["a.conll", "--training.max_epochs", "5", "b.jsonl"] → ([a.conll, b.jsonl], ["--training.max_epochs", "5"]).
    A word after a "--name" (without "=") is that override's value unless it starts with "--" too.
    """
    paths: list[Path] = []
    overrides: list[str] = []
    words = list(words)
    while words:
        word = words.pop(0)
        if not word.startswith("--"):
            paths.append(Path(word))
            continue
        overrides.append(word)
        if "=" not in word and words and not words[0].startswith("--"):
            overrides.append(words.pop(0))
    return paths, overrides


def take_rehearse(words: list[str]) -> tuple[list[str], Path | bool | None]:
    """Take --rehearse [RAW] out of override words: (the other words, RAW / True / None)."""
    rest: list[str] = []
    found: Path | bool | None = None
    words = list(words)
    while words:
        word = words.pop(0)
        if word == "--rehearse":
            found = Path(words.pop(0)) if words and not words[0].startswith("--") else True
        elif word.startswith("--rehearse="):
            found = Path(word.split("=", 1)[1])
        else:
            rest.append(word)
    return rest, found


def _parse_value(value: str) -> Any:
    try:
        # The standard library parses floats exactly ("0.3" → 0.3); ujson does not.
        return json.loads(value)
    except ValueError:
        return str(value)
