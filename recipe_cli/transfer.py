"""Transfer learning (RECIPE.md §7): start from a pretrained pipeline or static vectors, and keep what a
pretrained component knew with pseudo-rehearsal.

- ``--base-model``: the base pipeline gives the tokenizer, the vocab and every component. A trained
  component the base already has is updated in place (new entity labels are added, old ones kept); one it
  lacks is added beside the others with a tok2vec of its own. The base's other components are kept, frozen,
  and saved with every epoch. An updated component that shares a tok2vec with kept components gets its own
  copy of it, so that the kept components see the tok2vec they were trained with.
- ``--rehearse [RAW]``: the base pipeline, kept unchanged beside the one being trained, annotates raw texts
  (RAW, or the training texts); each batch of new examples is joined by ``ratio`` times as many of them, so
  every update also pulls the model toward what it predicted before. With ``fill_in``, it also annotates the
  new training examples with the labels they do not use (entity types, categories), where they do not
  overlap the new annotation (entities; independent categories): the new data then no longer teaches that
  those things are not entities.
- ``--vectors``: a pipeline folder with vectors, or a vectors file spaCy's ``init vectors`` reads.
"""

import copy
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import Config

from .errors import Errors, RecipeError
from .evaluation import load_pipeline
from .formats._text import read_lines

# Factories whose label set can grow after initialisation.
GROWING_FACTORIES = ("ner",)
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
        for path in _listener_paths(block):
            _set_at(block, path, copy.deepcopy(recipe_components["tok2vec"]["model"]))
        factory = block.pop("factory")
        nlp.add_pipe(factory, name=name, config=block)
        transfer.added.append(name)
    extra_trained: list[str] = []
    for name in transfer.updated:
        for t2v_name in _listened_tok2vecs(nlp, name):
            others = [c for c in nlp.get_pipe(t2v_name).listening_components if c not in trained]
            if others or own_tok2vec:
                paths = [".".join(p) for p in _listener_paths(nlp.config["components"][name])]
                nlp.replace_listeners(t2v_name, name, paths)
                transfer.own_tok2vec.append(name)
                if not nlp.get_pipe(t2v_name).listening_components:
                    _remove_unused(nlp, t2v_name, name)
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


def _remove_unused(nlp: Language, t2v_name: str, owner: str) -> None:
    """Remove a tok2vec nothing listens to any more. The copy its last listener received may refer to its
    settings (${components.tok2vec...}): that component's config gets them as values first."""
    nlp._pipe_configs[owner] = Config(nlp.config.interpolate()["components"][owner])
    nlp.remove_pipe(t2v_name)


def add_new_labels(nlp: Language, transfer: Transfer, examples: Iterable[Example]) -> dict[str, list[str]]:
    """Add the labels of the training data that the updated components lack; refuse those that cannot grow.

    RETURNS (Dict[str, List[str]]): component → labels added.
    """
    wanted: dict[str, set[str]] = {name: set() for name in transfer.updated}
    factories = {name: nlp.get_pipe_meta(name).factory for name in transfer.updated}
    for eg in examples:
        for name, factory in factories.items():
            wanted[name].update(_labels(eg.reference, factory))
    added: dict[str, list[str]] = {}
    for name, labels in wanted.items():
        proc = nlp.get_pipe(name)
        new = sorted(labels - set(getattr(proc, "labels", ())))
        if not new:
            continue
        if factories[name] not in GROWING_FACTORIES:
            raise RecipeError(Errors.E067.format(name=name, labels=", ".join(new[:8]), base=transfer.base))
        for label in new:
            proc.add_label(label)
        added[name] = new
    return added


def _labels(doc: Doc, factory: str) -> set[str]:
    if factory == "ner":
        return {ent.label_ for ent in doc.ents}
    if factory in ("tagger",):
        return {t.tag_ for t in doc if t.tag_}
    if factory in ("textcat", "textcat_multilabel"):
        return set(doc.cats)
    if factory == "morphologizer":
        return {str(t.morph) for t in doc if t.pos_ or str(t.morph)}
    return set()


def _listened_tok2vecs(nlp: Language, name: str) -> list[str]:
    return [
        t2v_name
        for t2v_name, proc in nlp.pipeline
        if name in getattr(proc, "listening_components", []) and t2v_name != name
    ]


def _listener_paths(block: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths within a component block to its tok2vec listener layers."""
    paths = []
    for key, value in block.items():
        if isinstance(value, dict):
            if value.get("@architectures") == LISTENER:
                paths.append((*prefix, key))
            else:
                paths.extend(_listener_paths(value, (*prefix, key)))
    return paths


def _set_at(block: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        block = block[key]
    block[path[-1]] = value


# --- pseudo-rehearsal ---


def read_raw_texts(path: Path) -> list[str]:
    """Raw texts for rehearsal: .txt (one text per line) or .jsonl (records with "text")."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(Errors.E020.format(path=path))
    texts = []
    jsonl = path.suffix.lower() == ".jsonl"
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        if jsonl:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                reason = f"invalid JSON at column {e.colno}: {e.msg}"
                raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason)) from None
            text = record.get("text") if isinstance(record, dict) else None
            if not isinstance(text, str) or not text.strip():
                raise RecipeError(Errors.E026.format(path=path, line=lineno, reason="record without text"))
            texts.append(text)
        else:
            texts.append(line)
    if not texts:
        raise RecipeError(Errors.E022.format(path=path))
    return texts


class Rehearsal:
    """Examples annotated by the base pipeline, drawn at random (with its own seeded generator) to join each batch.

    ratio (float): rehearsal examples per new example in a batch (at least one per batch when > 0).
    """

    def __init__(self, examples: list[Example], ratio: float, seed: int, *, distill: bool = False) -> None:
        self.examples = examples
        self.ratio = ratio
        self.rng = random.Random(seed)
        # distill: a separate nlp.rehearse() step toward the original model's scores, not examples in the batch.
        self.distill = distill

    def __call__(self, batch_size: int) -> list[Example]:
        if not self.examples or self.ratio <= 0:
            return []
        n = max(1, round(self.ratio * batch_size))
        return [self.examples[self.rng.randrange(len(self.examples))] for _ in range(n)]


def rehearsal_examples(
    teacher: Language, nlp: Language, texts: Iterable[str], components: list[str], *, unannotated: str = "outside"
) -> list[Example]:
    """The teacher's annotation of raw texts, as examples for the components being trained.

    unannotated: for ner, what the tokens outside the teacher's entities teach: "outside" (not an entity,
    as the teacher predicted) or "missing" (nothing: only the teacher's entities are targets).
    """
    if unannotated not in ("outside", "missing"):
        raise RecipeError(f"training.rehearsal.unannotated must be 'outside' or 'missing', not {unannotated!r}")
    examples = []
    with teacher.select_pipes(enable=_needed(teacher, components)):
        for doc in teacher.pipe(texts, batch_size=64):
            if unannotated == "missing" and doc.has_annotation("ENT_IOB"):
                doc.set_ents(list(doc.ents), default="missing")
            if doc.cats:
                doc.cats = _decided(doc.cats, exclusive=_exclusive(teacher, components))
            examples.append(Example(nlp.make_doc(doc.text), doc))
    return examples


def fill_in(
    teacher: Language, examples: Iterable[Example], components: list[str], factories: dict[str, str]
) -> Iterator[Example]:
    """New examples with the teacher's annotation of the labels the new data does not use.

    ner: the teacher's entities of labels absent from the new data, where they overlap no gold entity.
    textcat_multilabel: the teacher's scores for the categories the new data does not give.
    """
    examples = list(examples)
    new_labels = {name: set() for name in components}
    for eg in examples:
        for name in components:
            new_labels[name].update(_labels(eg.reference, factories[name]))
    enabled = _needed(teacher, components)
    with teacher.select_pipes(enable=enabled):
        docs = [Doc(teacher.vocab, words=[t.text for t in eg.reference], spaces=[bool(t.whitespace_) for t in eg.reference])
                for eg in examples]  # fmt: skip
        predicted = teacher.pipe(docs, batch_size=64)
        for eg, guess in zip(examples, predicted, strict=True):
            ref = eg.reference
            for name in components:
                factory = factories[name]
                if factory == "ner":
                    taken = {i for ent in ref.ents for i in range(ent.start, ent.end)}
                    extra = [
                        Span(ref, ent.start, ent.end, label=ent.label_)
                        for ent in guess.ents
                        if ent.label_ not in new_labels[name] and not taken & set(range(ent.start, ent.end))
                    ]
                    if extra:
                        ref.ents = sorted([*ref.ents, *extra], key=lambda span: span.start)
                elif factory == "textcat_multilabel" and ref.cats:
                    # Exclusive classes cannot be filled in: the new label already excludes the others.
                    for label, value in _decided(guess.cats, exclusive=False).items():
                        ref.cats.setdefault(label, value)
            yield eg


def _exclusive(teacher: Language, components: list[str]) -> bool:
    return any(teacher.get_pipe_meta(name).factory == "textcat" for name in components if name in teacher.pipe_names)


def _decided(cats: dict[str, float], *, exclusive: bool) -> dict[str, float]:
    """The base's category scores as the 0/1 targets spaCy's text classifiers train on: the best category for
    exclusive classes, every category scored 0.5 or more otherwise."""
    if exclusive:
        best = max(cats, key=cats.get)
        return {label: float(label == best) for label in cats}
    return {label: float(score >= 0.5) for label, score in cats.items()}


def _needed(teacher: Language, components: list[str]) -> list[str]:
    """The teacher's components that must run to annotate for `components`: them and the tok2vecs they listen to."""
    needed = [name for name in components if name in teacher.pipe_names]
    for name in list(needed):
        needed.extend(_listened_tok2vecs(teacher, name))
    return [name for name in teacher.pipe_names if name in needed]


def rehearsed_components(nlp: Language, teacher: Language) -> list[str]:
    """The trained components the base pipeline also has (of the same factory): those that can forget."""
    frozen = set(nlp.config["training"]["frozen_components"])
    return [
        name
        for name, proc in nlp.pipeline
        if name not in frozen
        and getattr(proc, "is_trainable", False)
        and name in teacher.pipe_names
        and teacher.get_pipe_meta(name).factory == nlp.get_pipe_meta(name).factory
    ]


def setup_rehearsal(nlp: Language, T: dict[str, Any], data: Any) -> None:
    """Annotate the rehearsal texts (and, with fill_in, the new examples) with the base pipeline.

    Sets data.rehearsal (and, with fill_in, replaces data.train by the filled-in examples, kept in memory).
    """
    settings = T["rehearsal"]
    base = nlp.config["paths"].get("base_model")
    if not base:
        raise RecipeError(Errors.E068)
    teacher = load_pipeline(base)
    components = rehearsed_components(nlp, teacher)
    if not components:
        data.notes.append("rehearsal: no trained component comes from the base model; nothing to rehearse")
        return
    factories = {name: nlp.get_pipe_meta(name).factory for name in components}
    ratio = float(settings.get("ratio", 1.0))
    raw = settings.get("raw")
    filled: list[Example] = []
    if settings.get("fill_in", True):
        filled = list(fill_in(teacher, data.train(), components, factories))
        data.train = lambda: filled
        data.shuffle_buffer = 0
        if "ner" in factories.values():
            entities = sum(data.train_summary.labels.get("entities", {}).values())
            added = sum(len(eg.reference.ents) for eg in filled) - entities
            data.notes.append(f"fill-in: the base model added {added:,} entities of the types the new data lacks")
    mode = settings.get("mode", "targets")
    if mode not in ("targets", "distill"):
        raise RecipeError(f"training.rehearsal.mode must be 'targets' or 'distill', not {mode!r}")
    if mode == "distill":
        # spaCy's rehearsal: a separate update moving the scores toward those of a frozen copy of the component
        # made now (the base's weights, new labels included), on raw texts.
        texts = read_raw_texts(Path(raw)) if raw else [eg.reference.text for eg in data.train()]
        set_tutors(nlp, components, base)
        examples = [Example(nlp.make_doc(text), nlp.make_doc(text)) for text in texts]
        data.rehearsal = Rehearsal(examples, ratio, seed=T["seed"] or 0, distill=True)
        data.notes.append(
            f"rehearsal (distill): {len(examples):,} raw texts ({raw or 'the training texts'}); "
            f"{ratio:g} per new example, in an nlp.rehearse() step after each update"
        )
        return
    if raw:
        unannotated = settings.get("unannotated", "outside")
        examples = rehearsal_examples(teacher, nlp, read_raw_texts(Path(raw)), components, unannotated=unannotated)
        source = f"{raw}, annotated by the base model"
    else:
        # The training texts: the base model's annotation where the new data has none (filled in), the new
        # data's where it has one, so the two never contradict each other.
        fill = settings.get("fill_in", True)
        examples = filled if fill else fill_in_copy(teacher, data, components, factories)
        source = "the training texts, with the base model's annotation filled in"
    data.rehearsal = Rehearsal(examples, ratio, seed=T["seed"] or 0)
    data.notes.append(
        f"rehearsal: {len(examples):,} examples ({source}) for {', '.join(components)}; {ratio:g} per new example in each batch"
    )


def set_tutors(nlp: Language, components: list[str], base: str) -> None:
    """Give each component the frozen copy spaCy's rehearse() compares it with: the base's component, built as
    the trained one was (own tok2vec, the training data's new labels added), so a resumed run gets the same."""
    for name in components:
        proc = nlp.get_pipe(name)
        if not hasattr(proc, "_rehearsal_model"):
            continue
        tutor_nlp = load_pipeline(base)
        for t2v_name in _listened_tok2vecs(tutor_nlp, name):
            paths = [".".join(p) for p in _listener_paths(tutor_nlp.config["components"][name])]
            tutor_nlp.replace_listeners(t2v_name, name, paths)
        tutor = tutor_nlp.get_pipe(name)
        for label in getattr(proc, "labels", ()):
            if label not in tutor.labels:
                tutor.add_label(label)
        proc._rehearsal_model = tutor.model


def fill_in_copy(teacher: Language, data: Any, components: list[str], factories: dict[str, str]) -> list[Example]:
    """Filled-in copies of the training examples (the training data itself left as it is)."""
    copies = [Example(eg.predicted.copy(), eg.reference.copy()) for eg in data.train()]
    return list(fill_in(teacher, copies, components, factories))
