"""Whether data carries what a component learns from."""

import copy
from collections.abc import Callable, Iterable
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from ..config.build import describe_paths, section_at
from ..errors import Errors, RecipeError
from .formats import locate
from .summary import DataSummary

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
# spaCy's beam-search variants need what their greedy twins need.
REQUIRED_ANNOTATIONS["beam_ner"] = REQUIRED_ANNOTATIONS["ner"]
REQUIRED_ANNOTATIONS["beam_parser"] = REQUIRED_ANNOTATIONS["parser"]


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


def fit_categories(nlp: Language, trained: dict[str, str], summary: DataSummary, *, base: bool = False) -> list[str]:
    """Check that the text classifiers fit the training data's categories, before anything is trained.

    textcat (exclusive classes) given one yes/no label is trained as textcat_multilabel: spaCy's exclusive
    textcat needs two classes or more, and a single sigmoid output is what one yes/no label asks for.
    textcat given texts with several categories at 1, or with a value for only some of the categories (yes/no
    answers about several labels), or either classifier given values other than 0 and 1, is an error naming the
    first such record.
    nlp (Language): the pipeline, changed in place when a component is switched.
    trained (Dict[str, str]): trained component name → factory name.
    summary (DataSummary): the training data's summary.
    base (bool): the pipeline comes from a base model, whose components keep their factories.
    RETURNS (List[str]): one line for each component switched, saying which and why.
    """
    if not set(trained.values()) & {"textcat", "textcat_multilabel"}:
        return []
    if summary.graded_category_at is not None:
        where, doc = _first_training_doc(nlp, lambda doc: any(v not in (0.0, 1.0) for v in doc.cats.values()))
        value = next((v for v in doc.cats.values() if v not in (0.0, 1.0)), None) if doc is not None else None
        raise RecipeError(Errors.E036.format(where=where, value=value))
    notes = []
    for name, factory in trained.items():
        if factory != "textcat":
            continue
        if summary.several_categories_at is not None:
            where, doc = _first_training_doc(nlp, lambda doc: sum(v >= 0.5 for v in doc.cats.values()) > 1)
            shown = ", ".join(label for label, v in doc.cats.items() if v >= 0.5) if doc is not None else "..."
            raise RecipeError(Errors.E037.format(where=where, labels=shown, name=name))
        labels = summary.category_labels
        n = len(labels)
        if n > 1 and summary.fewest_categories is not None and summary.fewest_categories < n:
            where, doc = _first_training_doc(nlp, lambda doc, n=n: 0 < len(doc.cats) < n)  # type: ignore[misc]
            given = ", ".join(doc.cats) if doc is not None else "some"
            raise RecipeError(Errors.E038.format(where=where, given=given, n=n, name=name))
        if len(labels) == 1 and not base:
            new = as_multilabel(nlp, name)
            named = "" if new == "textcat_multilabel" else f" (named '{new}')"
            notes.append(
                f"'{name}' is trained as textcat_multilabel{named}: the data has one yes/no category "
                f"({summary.yes_no(next(iter(labels)))}), and spaCy's textcat needs two or more exclusive classes; "
                "textcat_multilabel learns a yes/no score per label"
            )
    return notes


def as_multilabel(nlp: Language, name: str) -> str:
    """Replace an exclusive textcat with a textcat_multilabel of the same model, its classes no longer exclusive.

    The component is renamed textcat_multilabel where it was called textcat (as the packaged configs name it).
    RETURNS (str): the component's name now.
    """
    block = copy.deepcopy({k: v for k, v in nlp.config["components"][name].items() if k != "factory"})
    _not_exclusive(block.get("model", {}))
    block["threshold"] = 0.5
    block["scorer"] = {"@scorers": "spacy.textcat_multilabel_scorer.v2"}
    nlp.replace_pipe(name, "textcat_multilabel", config=block)
    new = "textcat_multilabel" if name == "textcat" and "textcat_multilabel" not in nlp.component_names else name
    if new != name:
        nlp.rename_pipe(name, new)
        config = nlp.config
        for key in ("frozen_components", "annotating_components"):
            config["training"][key] = [new if c == name else c for c in config["training"].get(key, [])]
        components = config.get("initialize", {}).get("components", {})
        if name in components:
            components[new] = components.pop(name)
    return new


def _not_exclusive(block: dict) -> None:
    for key, value in block.items():
        if key == "exclusive_classes":
            block[key] = False
        elif isinstance(value, dict):
            _not_exclusive(value)


def _first_training_doc(nlp: Language, predicate: Callable[[Doc], bool]) -> tuple[str, Doc | None]:
    """Where the first training record that predicate accepts is ("FILE, line N"), and its Doc."""
    config = nlp.config.interpolate()
    corpus = section_at(config, config["training"]["train_corpus"])
    found = locate(corpus.get("path"), nlp, predicate, format=corpus.get("format", "auto"),  # type: ignore[arg-type]
                   sents_per_doc=corpus.get("sents_per_doc", 1),
                   span_alignment=corpus.get("span_alignment", "strict"),
                   label_config=corpus.get("label_config"))  # fmt: skip
    if found is None:
        return describe_paths(corpus.get("path")), None
    file, where, doc = found
    return f"{file}, {where}", doc
