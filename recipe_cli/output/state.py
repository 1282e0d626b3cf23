"""The training state saved with every epoch, so that an interrupted run resumes exactly where it was.

Saved in ``epoch-NNN/training-state/``, inside the epoch folder, so that it appears (by the folder's
rename) at the same moment as the epoch's pipeline:

- ``state.json``: epoch, step and word counters, how far each schedule has been drawn, the states of
  the shuffling generator and of Python's and numpy's global generators, the best score and epoch, the
  metrics rows and the schedule trace of the plot;
- ``arrays.msgpack``: the live (not averaged) weights, the gradients not yet applied (spaCy applies a
  shared tok2vec's gradient at the next update), the parser's classes not yet seen in gold, Adam's two
  moments and the per-parameter update counts, keyed by component, layer position and parameter name (node ids change between
  processes). Float arrays are stored byte-plane shuffled and zlib-compressed.

The averaged weights are not stored twice: they are the weights of the epoch's pipeline itself.
"""

import json
import os
import random
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy
import srsly
from spacy.language import Language
from thinc.api import Model, Optimizer
from thinc.backends import get_array_ops

from ..errors import Errors
from .layout import ARRAYS_FILE, STATE_FILE

FORMAT_VERSION = 1
# Layer attributes that change during training and are not saved with a pipeline: the transition-based
# parser's classes not yet seen in gold (their scores are masked until they are).
TRAINING_ATTRS = ("unseen_classes",)


@dataclass
class TrainingState:
    """Everything but the arrays that a resumed run needs to go on exactly as the uninterrupted one."""

    epoch: int
    step: int
    words: int
    best_score: float
    best_epoch: int
    draws: dict[str, int]
    # rng_states(): the shuffling (and rehearsal) generators' and Python's and numpy's global generators' states.
    rngs: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    trace: list[Any] = field(default_factory=list)
    version: int = FORMAT_VERSION


def rng_states(shuffle_rng: random.Random, rehearsal_rng: random.Random | None = None) -> dict[str, Any]:
    """The states of the run's shuffling (and rehearsal) generators and of the global generators dropout and
    oracles use."""
    kind, keys, pos, has_gauss, gauss = numpy.random.get_state()
    return {
        "shuffle_rng": _json_state(shuffle_rng.getstate()),
        "rehearsal_rng": _json_state(rehearsal_rng.getstate()) if rehearsal_rng is not None else None,
        "python_rng": _json_state(random.getstate()),
        "numpy_rng": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)],  # type: ignore[attr-defined]
    }


def restore_rngs(rngs: dict[str, Any], shuffle_rng: random.Random, rehearsal_rng: random.Random | None = None) -> None:
    """Put the generators back in the states rng_states() gave."""
    shuffle_rng.setstate(_tuple_state(rngs["shuffle_rng"]))
    if rehearsal_rng is not None and rngs["rehearsal_rng"] is not None:
        rehearsal_rng.setstate(_tuple_state(rngs["rehearsal_rng"]))
    random.setstate(_tuple_state(rngs["python_rng"]))
    kind, keys, pos, has_gauss, gauss = rngs["numpy_rng"]
    numpy.random.set_state((kind, numpy.asarray(keys, dtype=numpy.uint32), pos, has_gauss, gauss))


def _json_state(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _tuple_state(state: list) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def _nodes(nlp: Language) -> dict[str, Model]:
    """The layers of the pipeline's models by a name that is the same in every process (node ids are not):
    component/position in its model's walk. A layer shared by several components is named once."""
    nodes: dict[str, Model] = {}
    seen: set[int] = set()
    for name, proc in nlp.pipeline:
        model = getattr(proc, "model", None)
        if not isinstance(model, Model):
            continue
        for i, node in enumerate(model.walk()):
            if node.id not in seen:
                seen.add(node.id)
                nodes[f"{name}/{i}"] = node
    return nodes


def _params(nodes: dict[str, Model]) -> dict[str, tuple[Model, str]]:
    """Parameter name (layer name/parameter) → (layer, parameter)."""
    return {f"{key}/{name}": (node, name) for key, node in nodes.items() for name in node.param_names}


def save_state(
    nlp: Language,
    optimizer: Optimizer,
    state: TrainingState,
    path: Path,
    *,
    arrays: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Write the training state into path (a folder inside an epoch folder that is not yet in place).

    arrays: from encode_arrays(nlp, optimizer), started earlier (default: encoded now).
    """
    path.mkdir(parents=True, exist_ok=True)
    srsly.write_msgpack(path / ARRAYS_FILE, (arrays or encode_arrays(nlp, optimizer))())
    # The fields are plain lists and dicts already: no deep copy (asdict's) of rows and trace. The standard
    # library's JSON, whose floats read back exactly: the best score a resumed run compares its epochs with must be
    # the very one the run had (srsly's ujson keeps 10 digits, and a tie then passes for an improvement).
    text = json.dumps({f.name: getattr(state, f.name) for f in fields(state)})
    (path / STATE_FILE).write_text(text, encoding="utf8")


def encode_arrays(nlp: Language, optimizer: Optimizer) -> Callable[[], dict[str, Any]]:
    """Start encoding the state's arrays (live weights, pending gradients, Adam's moments) on threads (zlib and
    numpy let others run meanwhile); the function returned waits for them and gives what ARRAYS_FILE holds.

    The arrays are taken as they are now: nothing may update them until the function has returned. An optimizer
    that brings rows up to date lazily (recipe_cli.training.optimizer) is brought up to date first, so that the
    state holds what a fresh optimizer, restored from it, goes on from.
    """
    catch_up = getattr(optimizer, "catch_up", None)
    if callable(catch_up):
        catch_up()
    nodes = _nodes(nlp)
    params = _params(nodes)
    # The optimizer keys its state by (node id, parameter name).
    stable = {(node.id, name): key for key, (node, name) in params.items()}
    attrs = {
        key: kept
        for key, node in nodes.items()
        if (kept := {name: sorted(node.attrs[name]) for name in TRAINING_ATTRS if name in node.attrs})
    }
    pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
    encoding: dict[str, dict[str, Future]] = {
        "params": {key: pool.submit(_encode, node.get_param(name)) for key, (node, name) in params.items()
                   if node.has_param(name)},
        "grads": {key: pool.submit(_encode, node.get_grad(name)) for key, (node, name) in params.items()
                  if node.has_grad(name)},
        "mom1": {stable[key]: pool.submit(_encode, v) for key, v in optimizer.mom1.items() if key in stable},
        "mom2": {stable[key]: pool.submit(_encode, v) for key, v in optimizer.mom2.items() if key in stable},
    }  # fmt: skip
    # thinc's Optimizer never writes its last_seen table: the update counts are all there is to keep.
    counts = {"nr_update": {stable[key]: int(v) for key, v in optimizer.nr_update.items() if key in stable}}

    def arrays() -> dict[str, Any]:
        try:
            encoded = {
                kind: {key: future.result() for key, future in items.items()} for kind, items in encoding.items()
            }
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return {"version": FORMAT_VERSION, **encoded, "attrs": attrs, **counts}

    return arrays


def read_state(path: Path) -> TrainingState:
    data = json.loads((path / STATE_FILE).read_text(encoding="utf8"))
    return TrainingState(**data)


def restore_state(nlp: Language, optimizer: Optimizer, path: Path) -> None:
    """Put the saved live weights into nlp and the saved Adam state into a fresh optimizer.

    nlp holds the epoch's pipeline, whose weights are the optimizer's averages: they become the
    averages of every parameter that has been updated, and the saved live weights replace them.
    """
    arrays = srsly.read_msgpack(path / ARRAYS_FILE)
    nodes = _nodes(nlp)
    params = _params(nodes)
    missing = sorted(set(arrays["params"]) - set(params))
    if missing:
        raise ValueError(Errors.E075.format(names=", ".join(missing[:3])))

    def optimizer_key(key: str) -> tuple[int, str]:
        node, name = params[key]
        return (node.id, name)

    # Before the live weights replace them: the loaded weights are the averages of the updated parameters.
    averaged = {}
    for key in arrays["nr_update"]:
        node, name = params[key]
        averaged[key] = node.ops.xp.array(node.get_param(name), copy=True)
    for key, blob in arrays["params"].items():
        node, name = params[key]
        node.set_param(name, node.ops.asarray(_decode(blob)))  # type: ignore[arg-type]
    # A state saved before the parser's unseen classes were kept has no "attrs".
    for node_key, kept in arrays.get("attrs", {}).items():
        for name, values in kept.items():
            nodes[node_key].attrs[name] = set(values)
    for key, blob in arrays["grads"].items():
        node, name = params[key]
        node.set_grad(name, node.ops.asarray(_decode(blob)))  # type: ignore[arg-type]
    for kind in ("mom1", "mom2"):
        target = getattr(optimizer, kind)
        for key, blob in arrays[kind].items():
            target[optimizer_key(key)] = params[key][0].ops.asarray(_decode(blob))  # type: ignore[arg-type]
    for key, count in arrays["nr_update"].items():
        optimizer.nr_update[optimizer_key(key)] = count
        if optimizer.averages is not None:
            optimizer.averages[optimizer_key(key)] = averaged[key]


def _encode(array: Any) -> dict[str, Any]:
    """Byte-plane shuffled, zlib-compressed bytes of an array (float weights compress better so)."""
    data = numpy.ascontiguousarray(get_array_ops(array).to_numpy(array))
    planes = data.view(numpy.uint8).reshape(-1, data.itemsize).T.tobytes() if data.size else b""
    return {"dtype": data.dtype.str, "shape": list(data.shape), "data": zlib.compress(planes, 1)}


def _decode(blob: dict[str, Any]) -> numpy.ndarray:
    dtype = numpy.dtype(blob["dtype"])
    shape = tuple(blob["shape"])
    raw = numpy.frombuffer(zlib.decompress(blob["data"]), dtype=numpy.uint8)
    if raw.size:
        raw = raw.reshape(dtype.itemsize, -1).T.copy()
    return raw.view(dtype).reshape(shape)
