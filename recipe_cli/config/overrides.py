"""Dotted config overrides from command-line words: --section.key value, --section.key=value."""

import json
from typing import Any

from ..errors import Errors, UsageError

# Settings a resumed run may change: each can only make the run longer (recipe-train --resume; recipe-sweep
# lengthens a finished trial by them).
EXTENDING = ("training.max_epochs", "training.max_steps", "training.patience")


def lets_run_as_long(old: Any, new: Any) -> bool:
    """Whether a limit of EXTENDING (0: none) set to new lets a run go on at least as long as old did: both whole
    numbers (not bools), and new 0 or not below old where old was a limit."""
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (old, new)):
        return False
    return new == 0 or (old != 0 and new >= old)


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


def _parse_value(value: str) -> Any:
    try:
        # The standard library parses floats exactly ("0.3" → 0.3); ujson does not.
        return json.loads(value)
    except ValueError:
        return str(value)
