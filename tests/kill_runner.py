"""Run `recipe-train` with a fault injected at one point, for the crash-safety tests.

Usage: python kill_runner.py POINT N SIGNAL [POINT N SIGNAL ...] -- recipe-train arguments...
POINT names a function the run calls; at its N-th call the process sends itself SIGNAL (KILL, INT,
TERM) or, for the disk faults (ENOSPC, EACCES), the call raises that OSError instead. Each fault counts
the calls of its own point.

With KILL_RUNNER_WEIGHTS=PATH in the environment, the process writes, as it exits, the pipeline's weights as the
training left them (live) and the optimizer's averages of the same parameters to PATH (an .npz file; see
record_weights), so that a test can compare them with what the run saved.
"""

import atexit
import errno
import os
import signal
import sys

import numpy
from pipeline_weights import weights_in_order
from spacy.language import Language
from thinc.api import get_current_ops

import recipe_cli.output.checkpoint as checkpoint
import recipe_cli.training.epochs as fitting
import recipe_cli.training.loop as loop
import recipe_cli.training.setup as setup

faults = sys.argv[1 : sys.argv.index("--")]
args = sys.argv[sys.argv.index("--") + 1 :]


def make_fault(n: int, what: str):
    calls = {"n": 0}

    def fault() -> None:
        calls["n"] += 1
        if calls["n"] != n:
            return
        if what in ("ENOSPC", "EACCES"):
            code = getattr(errno, what)
            raise OSError(code, os.strerror(code), "injected")
        os.kill(os.getpid(), getattr(signal, f"SIG{what}"))

    return fault


def wrap(module, name, fault, after=False):
    original = getattr(module, name)

    def wrapped(*a, **kw):
        if not after:
            fault()
        result = original(*a, **kw)
        if after:
            fault()
        return result

    setattr(module, name, wrapped)


def inject(point: str, fault) -> None:
    if point == "count":  # counting the training data, before the pipeline is initialised (run.json is written)
        wrap(setup, "summarize", fault)
    elif point == "initialize":  # initialising the pipeline, before the first update
        wrap(Language, "initialize", fault)
    elif point == "update":  # during the updates of an epoch
        wrap(loop, "apply_update", fault, after=True)
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
        wrap(fitting, "save_state", fault)
    elif point == "save_interrupted":  # an interrupted epoch's weights are about to be written to model-last
        wrap(fitting, "save_pipeline", fault)
    elif point == "metrics":  # the epoch folder is in place, its metrics row not yet written
        wrap(fitting, "append_row", fault)
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


def record_weights(path: str) -> None:
    """At exit, write live_K and averaged_K for the K-th parameter of the pipeline (in the order of
    weights_in_order, for the parameters the optimizer averages) to path. The training's last nlp and optimizer are
    taken from its updates; nothing updates after an interrupt, so these are the weights at the interrupt."""
    seen = {}
    original = loop.apply_update

    def apply_update(nlp, batch, optimizer, *a, **kw):
        seen["nlp"], seen["optimizer"] = nlp, optimizer
        return original(nlp, batch, optimizer, *a, **kw)

    loop.apply_update = apply_update

    def dump() -> None:
        if not seen:
            return
        averages = seen["optimizer"].averages
        arrays = {}
        for i, (key, live) in enumerate(weights_in_order(seen["nlp"])):
            arrays[f"live_{i}"] = live
            if key in averages:
                arrays[f"averaged_{i}"] = get_current_ops().to_numpy(averages[key])
        numpy.savez(path, **arrays)

    atexit.register(dump)


if os.environ.get("KILL_RUNNER_WEIGHTS"):
    record_weights(os.environ["KILL_RUNNER_WEIGHTS"])

for i in range(0, len(faults), 3):
    inject(faults[i], make_fault(int(faults[i + 1]), faults[i + 2]))

from recipe_cli.cli.main import app  # noqa: E402

sys.argv = ["recipe", "train", *args]
app()
