"""Whether data carries what a component learns from."""

from collections.abc import Callable, Iterable
from pathlib import Path

from spacy.tokens import Doc
from spacy.training import Example

from .errors import Errors, RecipeError

# Factory → (description, test on a reference Doc).
REQUIRED_ANNOTATIONS: dict[str, tuple[str, Callable[[Doc], bool]]] = {
    "ner": ("entity", lambda doc: len(doc.ents) > 0),
    "tagger": ("tag", lambda doc: doc.has_annotation("TAG")),
    "parser": ("dependency", lambda doc: doc.has_annotation("DEP")),
    "morphologizer": ("morphology or POS", lambda doc: doc.has_annotation("MORPH") or doc.has_annotation("POS")),
    "senter": ("sentence boundary", lambda doc: doc.has_annotation("SENT_START")),
    "textcat": ("category (cats)", lambda doc: bool(doc.cats)),
    "textcat_multilabel": ("category (cats)", lambda doc: bool(doc.cats)),
}


def missing_annotations(examples: Iterable[Example], components: dict[str, str]) -> dict[str, str]:
    """The components (name → what they need) whose annotation no example carries.

    Reads the examples once, and only until every component has found its annotation.
    examples (Iterable[Example]): the data.
    components (Dict[str, str]): component name → factory name; factories we cannot check are skipped.
    """
    missing = {name: REQUIRED_ANNOTATIONS[f] for name, f in components.items() if f in REQUIRED_ANNOTATIONS}
    for eg in examples:
        if not missing:
            break
        for name in [name for name, (_, has) in missing.items() if has(eg.reference)]:
            del missing[name]
    return {name: what for name, (what, _) in missing.items()}


def check_annotations(examples: Iterable[Example], components: dict[str, str], path: Path | str, n: int) -> None:
    """Fail when no example has the annotation a trained component needs.

    examples (Iterable[Example]): the data.
    components (Dict[str, str]): trained component name → factory name.
    path (Path): the data file, named in the error.
    n (int): the number of examples, named in the error.
    """
    for name, what in missing_annotations(examples, components).items():
        raise RecipeError(Errors.E029.format(path=path, annotation=what, component=name, n=n))
