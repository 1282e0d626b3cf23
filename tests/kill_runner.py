"""Run `recipe-train` with a fault injected at one point, for the crash-safety tests.

Usage: python kill_runner.py POINT N SIGNAL -- recipe-train arguments...
POINT names a function the run calls; at its N-th call the process sends itself SIGNAL (KILL, INT,
TERM) or, for the disk faults (ENOSPC, EACCES), the call raises that OSError instead.
"""

import errno
import os
import signal
import sys

from spacy.language import Language

import recipe_cli.output.checkpoint as checkpoint
import recipe_cli.training.fit as fitting
import recipe_cli.training.loop as loop
import recipe_cli.training.setup as setup

point, n, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
args = sys.argv[sys.argv.index("--") + 1 :]
calls = {"n": 0}


def fault() -> None:
    calls["n"] += 1
    if calls["n"] != n:
        return
    if what in ("ENOSPC", "EACCES"):
        code = getattr(errno, what)
        raise OSError(code, os.strerror(code), "injected")
    os.kill(os.getpid(), getattr(signal, f"SIG{what}"))


def wrap(module, name, after=False):
    original = getattr(module, name)

    def wrapped(*a, **kw):
        if not after:
            fault()
        result = original(*a, **kw)
        if after:
            fault()
        return result

    setattr(module, name, wrapped)


if point == "count":  # counting the training data, before the pipeline is initialised (run.json is written)
    wrap(setup, "summarize")
elif point == "initialize":  # initialising the pipeline, before the first update
    wrap(Language, "initialize")
elif point == "update":  # during the updates of an epoch
    wrap(loop, "apply_update", after=True)
elif point == "evaluate":  # while the dev set is being scored
    original_callback = fitting.create_evaluation_callback

    def callback(*a, **kw):
        evaluate = original_callback(*a, **kw)

        def wrapped(*b, **k):
            fault()
            return evaluate(*b, **k)

        return wrapped

    fitting.create_evaluation_callback = callback
elif point == "save_state":  # the pipeline is written, its training state not yet
    wrap(fitting, "save_state")
elif point == "metrics":  # the epoch folder is in place, its metrics row not yet written
    wrap(fitting, "append_row")
elif point == "replace":  # between moving the old model-last away and the new one in
    original_replace = checkpoint.replace_folder

    def replace(new, dest):
        old = dest.parent / f".{dest.name}.old"
        if dest.exists() and dest.name == "model-last":
            dest.rename(old)
            fault()
            old.rename(dest)
        return original_replace(new, dest)

    checkpoint.replace_folder = replace
else:
    raise SystemExit(f"unknown point {point}")

from recipe_cli.cli.main import app  # noqa: E402

sys.argv = ["recipe", "train", *args]
app()
