"""The parameters of a pipeline in an order that the same pipeline loaded from disk repeats (for the tests that
compare what a run saved with the weights it trained; used in the test process and in kill_runner.py)."""

from collections.abc import Iterator
from typing import Any

from spacy.language import Language


def weights_in_order(nlp: Language) -> Iterator[tuple[tuple[int, str], Any]]:
    """(key, array) of each parameter of the pipeline's components that have a model, as numpy copies: components
    in pipeline order, each model's nodes as Model.walk() yields them. key is (node id, name), as the optimizer
    keys its averages."""
    for _, proc in nlp.pipeline:
        model = getattr(proc, "model", None)
        if model is None:
            continue
        for node in model.walk():
            for name in node.param_names:
                if node.has_param(name):
                    yield (node.id, name), node.ops.to_numpy(node.get_param(name)).copy()
