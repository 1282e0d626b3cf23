"""Transfer learning (RECIPE.md §7): start from a pretrained pipeline or static vectors (pseudo-rehearsal, which
keeps what a pretrained component knew, is in rehearsal.py).

- ``--base-model``: the base pipeline gives the tokenizer, the vocab and every component. A trained
  component the base already has is updated in place (new entity labels are added, old ones kept); one it
  lacks is added beside the others with a tok2vec of its own. The base's other components are kept, frozen,
  and saved with every epoch. An updated component that shares a tok2vec with kept components gets its own
  copy of it, so that the kept components see the tok2vec they were trained with.
- ``--vectors``: a pipeline folder with vectors, or a vectors file spaCy's ``init vectors`` reads.

Labels the new data uses that an updated component lacks are added where spaCy can grow the component (ner, and a
text classifier whose model can be resized, as spaCy's TextCatBOW); a trained tagger or morphologizer cannot add
labels, and such data is refused unless ``[training] unknown_labels = "missing"``, which leaves those tokens
unannotated (counted and reported) instead of teaching a label the model has no output for.
"""

import copy
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Config

from ..errors import Errors, RecipeError
from ..pipeline import load_pipeline

# Factories whose label set can grow after initialisation (a text classifier can where its model is resizable).
GROWING_FACTORIES = ("ner", "beam_ner")
# Factories whose labels are those of tokens.
TOKEN_FACTORIES = ("tagger", "morphologizer")
# Factories whose unknown labels can be left unannotated (training.unknown_labels = "missing").
MASKABLE_FACTORIES = (*TOKEN_FACTORIES, "textcat", "textcat_multilabel")
LISTENER = "spacy.Tok2VecListener.v1"


@dataclass
class Transfer:
    """How a pipeline was built from a base model."""

    base: str
    updated: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)
    own_tok2vec: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        lines = [f"base model {self.base}"]
        if self.updated:
            lines.append(f"updated in place: {', '.join(self.updated)}")
        if self.added:
            lines.append(f"added: {', '.join(self.added)}")
        if self.own_tok2vec:
            lines.append(f"given a copy of the shared tok2vec: {', '.join(self.own_tok2vec)}")
        if self.frozen:
            lines.append(f"kept unchanged: {', '.join(self.frozen)}")
        return lines


def pipeline_from_base(config: Config, base_name: str, *, own_tok2vec: bool = False) -> tuple[Language, Transfer]:
    """The base pipeline with the recipe's trained components updated in place or added beside it.

    own_tok2vec: give every updated component its own copy of the tok2vec it listens to (spaCy's rehearse
        needs that), not only those that share it with kept components.
    config (Config): the run's config (the recipe's, with overrides); its [components] give the
        components to add, and its [paths], [corpora], [training] and [system] replace the base's.
    RETURNS: the pipeline (uninitialised only in its added components) and what was done.
    """
    nlp = load_pipeline(base_name)
    # Added components carry their settings as values: the base's config has none of the recipe's variables.
    recipe_components = config.interpolate()["components"]
    # The recipe's own tok2vec serves its components; the base has its own.
    trained = [name for name in config["nlp"]["pipeline"] if name != "tok2vec"]
    transfer = Transfer(base=str(base_name))
    for name in trained:
        block = copy.deepcopy(recipe_components[name])
        if name in nlp.pipe_names:
            factory = nlp.get_pipe_meta(name).factory
            if factory != block["factory"]:
                raise RecipeError(Errors.E066.format(base=base_name, name=name, factory=factory, want=block["factory"]))
            transfer.updated.append(name)
            continue
        for path in listener_paths(block):
            _set_at(block, path, copy.deepcopy(recipe_components["tok2vec"]["model"]))
        factory = block.pop("factory")
        nlp.add_pipe(factory, name=name, config=block)
        transfer.added.append(name)
    extra_trained: list[str] = []
    copies: dict[str, list[str]] = {}  # tok2vec → the components given a copy of it
    for name in transfer.updated:
        for t2v_name in listened_tok2vecs(nlp, name):
            others = [c for c in nlp.get_pipe(t2v_name).listening_components if c not in trained]  # type: ignore[attr-defined]
            if others or own_tok2vec:
                paths = [".".join(p) for p in listener_paths(nlp.config["components"][name])]
                nlp.replace_listeners(t2v_name, name, paths)
                transfer.own_tok2vec.append(name)
                copies.setdefault(t2v_name, []).append(name)
                if not nlp.get_pipe(t2v_name).listening_components:  # type: ignore[attr-defined]
                    _remove_unused(nlp, t2v_name, copies[t2v_name])
            else:
                extra_trained.append(t2v_name)
    keep_trained = set(trained) | set(extra_trained)
    transfer.frozen = [name for name in nlp.pipe_names if name not in keep_trained]
    for section in ("paths", "corpora", "training", "system"):
        nlp.config[section] = copy.deepcopy(config[section])
    configured = list(config["training"].get("frozen_components") or [])
    nlp.config["training"]["frozen_components"] = configured or transfer.frozen
    if configured:
        transfer.frozen = configured
    return nlp, transfer


def _remove_unused(nlp: Language, t2v_name: str, owners: list[str]) -> None:
    """Remove a tok2vec nothing listens to any more. The copies its listeners received may refer to its
    settings (${components.tok2vec...}): every one of those components' configs gets them as values first."""
    interpolated = nlp.config.interpolate()["components"]
    for owner in owners:
        nlp._pipe_configs[owner] = Config(interpolated[owner])
    nlp.remove_pipe(t2v_name)


def add_new_labels(
    nlp: Language, transfer: Transfer, examples: Iterable[Example], *, missing: bool = False
) -> dict[str, list[str]]:
    """Add the labels of the training data that the updated components lack, where they can grow; refuse (E067)
    those of a component that cannot, unless missing (they are then left unannotated, see UnknownLabels).

    RETURNS (Dict[str, List[str]]): component → labels added.
    """
    wanted: dict[str, set[str]] = {name: set() for name in transfer.updated}
    factories = {name: nlp.get_pipe_meta(name).factory for name in transfer.updated}
    for eg in examples:
        for name, factory in factories.items():
            wanted[name].update(doc_labels(eg.reference, factory))
    added: dict[str, list[str]] = {}
    for name, labels in wanted.items():
        proc = nlp.get_pipe(name)
        new = sorted(labels - set(getattr(proc, "labels", ())))
        if not new:
            continue
        if not can_grow(proc, factories[name]):
            if missing and factories[name] in MASKABLE_FACTORIES:
                continue
            raise RecipeError(Errors.E067.format(name=name, labels=", ".join(new[:8]), base=transfer.base))
        known = len(proc.labels)  # type: ignore[attr-defined]
        for label in new:
            proc.add_label(label)  # type: ignore[attr-defined]
        if factories[name] in ("textcat", "textcat_multilabel"):
            _start_new_classes(proc, known)
        added[name] = new
    return added


def can_grow(proc: Any, factory: str) -> bool:
    """Whether a trained component can add labels: ner can, and a model spaCy can resize (TextCatBOW)."""
    return factory in GROWING_FACTORIES or bool(getattr(proc, "is_resizable", False))


def _start_new_classes(proc: Any, known: int) -> None:
    """Give a resized text classifier's new classes the mean bias of its old ones. spaCy's resize gives them a bias
    of -5000, which keeps the old predictions exactly but which Adam, moving a weight by about the learning rate
    per update, would need millions of updates to bring into play: the new classes would never be predicted."""
    layer = proc.model.get_ref("output_layer")
    if known and layer.has_param("b"):
        bias = layer.get_param("b").copy()
        bias[known:] = bias[:known].mean()
        layer.set_param("b", bias)


@dataclass
class UnknownLabels:
    """The labels trained components lack and cannot add, to be left unannotated in the training data: a token's
    tag or morphology, a document's category (with exclusive classes, all of that document's categories)."""

    # Component → label → how many tokens (tagger, morphologizer) or documents (text classifiers) carry it.
    counts: dict[str, Counter]
    factories: dict[str, str]

    @classmethod
    def find(cls, nlp: Language, trained: dict[str, str], examples: Iterable[Example]) -> "UnknownLabels":
        """The labels of the examples that the trained components (name → factory) lack and cannot add."""
        components = {
            name: factory
            for name, factory in trained.items()
            if factory in MASKABLE_FACTORIES and not can_grow(nlp.get_pipe(name), factory)
        }
        known = {name: set(getattr(nlp.get_pipe(name), "labels", ())) for name in components}
        counts: dict[str, Counter] = {name: Counter() for name in components}
        for eg in examples:
            for name, factory in components.items():
                counts[name].update(label for label in _labels(eg.reference, factory) if label not in known[name])
        return cls({name: found for name, found in counts.items() if found}, components)

    def erase(self, eg: Example) -> Example:
        """Leave the example's unknown labels unannotated (in place; a second call finds nothing left)."""
        doc = eg.reference
        for name, counts in self.counts.items():
            factory = self.factories[name]
            if factory == "tagger":
                for token in doc:
                    if token.tag_ in counts:
                        token.tag_ = ""
            elif factory == "morphologizer":
                for token in doc:
                    if (token.pos_ or str(token.morph)) and _morph_label(
                        doc, token.morph.to_dict(), token.pos_
                    ) in counts:
                        token.pos_ = ""
                        token.set_morph(None)  # type: ignore[attr-defined]
            else:
                unknown = [label for label in doc.cats if label in counts]
                if factory == "textcat" and any(doc.cats[label] >= 0.5 for label in unknown):
                    # Exclusive classes: a document whose class is unknown says nothing of the others either.
                    doc.cats = {}
                for label in unknown:
                    doc.cats.pop(label, None)
        return eg

    def wrap(self, train: Callable[[], Iterable[Example]]) -> Callable[[], Iterator[Example]]:
        """The training corpus with the unknown labels left unannotated on every pass."""

        def erased() -> Iterator[Example]:
            for eg in train():
                yield self.erase(eg)

        return erased

    def describe(self) -> list[str]:
        lines = []
        for name, counts in self.counts.items():
            what = "documents" if self.factories[name].startswith("textcat") else "tokens"
            labels = ", ".join(f"{label} ({n:,})" for label, n in counts.most_common(8))
            more = f" and {len(counts) - 8} more" if len(counts) > 8 else ""
            lines.append(
                f"{name}: {sum(counts.values()):,} {what} left unannotated, their labels unknown to the base "
                f"model's {name}: {labels}{more}"
            )
        return lines


def _labels(doc: Doc, factory: str) -> list[str]:
    """Every label a document uses: once per token (tagger, morphologizer), or once (text classifiers)."""
    if factory in TOKEN_FACTORIES:
        return _token_labels(doc, factory)
    return sorted(doc_labels(doc, factory))


def doc_labels(doc: Doc, factory: str) -> set[str]:
    if factory == "ner":
        return {ent.label_ for ent in doc.ents}
    if factory in TOKEN_FACTORIES:
        return set(_token_labels(doc, factory))
    if factory in ("textcat", "textcat_multilabel"):
        return set(doc.cats)
    return set()


def _token_labels(doc: Doc, factory: str) -> list[str]:
    """The label of each annotated token: its tag, or (as the morphologizer names its labels) its features with
    the POS as one more ("Number=Sing|POS=NOUN")."""
    if factory == "tagger":
        return [t.tag_ for t in doc if t.tag_]
    return [_morph_label(doc, t.morph.to_dict(), t.pos_) for t in doc if t.pos_ or str(t.morph)]


def _morph_label(doc: Doc, features: dict[str, str], pos: str) -> str:
    if pos:
        features = {**features, "POS": pos}
    return str(doc.vocab.strings[doc.vocab.morphology.add(features)])


def listened_tok2vecs(nlp: Language, name: str) -> list[str]:
    return [
        t2v_name
        for t2v_name, proc in nlp.pipeline
        if name in getattr(proc, "listening_components", []) and t2v_name != name
    ]


def listener_paths(block: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths within a component block to its tok2vec listener layers."""
    paths = []
    for key, value in block.items():
        if isinstance(value, dict):
            if value.get("@architectures") == LISTENER:
                paths.append((*prefix, key))
            else:
                paths.extend(listener_paths(value, (*prefix, key)))
    return paths


def _set_at(block: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        block = block[key]
    block[path[-1]] = value
