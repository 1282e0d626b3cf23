"""Pseudo-rehearsal (RECIPE.md §7, --rehearse [RAW]): the base pipeline, kept unchanged beside the one being
trained, annotates raw texts (RAW; without it a sample of the base's own training texts, base_texts.py, or when
those cannot be found the training texts); each batch of new examples is joined by ``ratio`` times
as many of them, so every update also pulls the model toward what it predicted before. With ``fill_in``, it also
annotates the new training examples with the labels they do not use (entity types, categories), where they do not
overlap the new annotation.
"""

import json
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example

from ..data.formats import json_error, read_lines
from ..data.summary import DataSummary
from ..errors import Errors, RecipeError
from ..pipeline import load_pipeline
from .base_texts import NotFound, base_training_texts
from .transfer import doc_labels, listened_tok2vecs, listener_paths


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
                reason = json_error(e, line=False)
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
    teacher: Language,
    nlp: Language,
    texts: Iterable[str],
    components: list[str],
    *,
    unannotated: Literal["outside", "missing"] = "outside",
) -> list[Example]:
    """The teacher's annotation of raw texts, as examples for the components being trained.

    unannotated: for ner, what the tokens outside the teacher's entities teach: "outside" (not an entity,
    as the teacher predicted) or "missing" (nothing: only the teacher's entities are targets).
    """
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
    new_labels = {name: set() for name in components}  # type: ignore[var-annotated]
    for eg in examples:
        for name in components:
            new_labels[name].update(doc_labels(eg.reference, factories[name]))
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
                        # Only the teacher's entities are set: tokens the new data left unannotated stay so.
                        ref.set_ents(extra, default="unmodified")
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
        best = max(cats, key=cats.get)  # type: ignore[arg-type]
        return {label: float(label == best) for label in cats}
    return {label: float(score >= 0.5) for label, score in cats.items()}


def _needed(teacher: Language, components: list[str]) -> list[str]:
    """The teacher's components that must run to annotate for `components`: them and the tok2vecs they listen to."""
    needed = [name for name in components if name in teacher.pipe_names]
    for name in list(needed):
        needed.extend(listened_tok2vecs(teacher, name))
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


@dataclass(frozen=True)
class RehearsalSetup:
    """What pseudo-rehearsal brings to a run: the draws that join each batch (None: nothing to rehearse), the
    training examples with the base model's annotation filled in (None: without fill_in, or nothing rehearsed),
    a note for each thing done and a warning for each thing not done as asked, and the record of the texts
    rehearsed (saved in the run's meta.json, so that a resumed run rehearses the same)."""

    rehearsal: Rehearsal | None
    filled: list[Example] | None
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    record: dict[str, Any] = field(default_factory=dict)


# Said when the training texts are rehearsed for want of the base's own: what the user can do, and why.
FALLBACK_ADVICE = (
    "texts of the base model's own domain (--rehearse RAW) keep more of what it knew: it finds fewer of its "
    "labels in texts of another domain"
)


@dataclass(frozen=True)
class RehearsalTexts:
    """The texts to rehearse (None: the training texts), where they come from, and the record of that choice."""

    texts: list[str] | None
    source: str
    record: dict[str, Any]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def rehearsal_texts(
    teacher: Language, base: str, settings: Mapping[str, Any], seed: int, recorded: Mapping[str, Any] | None
) -> RehearsalTexts:
    """RAW if given; else a sample of the base model's own training texts if they can be found (and, resuming,
    are those the run read); else the training texts.

    recorded: the record of a resumed run (None for a fresh one; empty for a run that predates the record, which
    rehearsed the training texts).
    """
    raw = settings["raw"]
    if raw:
        return RehearsalTexts(read_raw_texts(Path(raw)), raw, {"texts": "raw", "path": raw})
    training = RehearsalTexts(None, "the training texts", {"texts": "training"})
    if recorded is not None and recorded.get("texts") != "base":
        return training
    sample = settings["base_sample"] if recorded is None else recorded.get("sample", settings["base_sample"])
    if sample == 0:
        return training
    files = recorded["files"] if recorded is not None else None
    try:
        found = base_training_texts(teacher, base, sample, seed, recorded=files)
    except NotFound as e:
        if recorded is not None:
            warning = f"rehearsal: {e}; this resumed run rehearses the training texts from here on"
            return replace(training, warnings=(warning,))
        fallback = f"rehearsal: {e}: the training texts are rehearsed instead; {FALLBACK_ADVICE}"
        # A file the base's record names, gone or changed, is warned about; a base that names none is only noted.
        if e.warn:
            return replace(training, warnings=(fallback,))
        return replace(training, notes=(fallback,))
    record = {"texts": "base", "files": found.files, "sample": sample}
    return RehearsalTexts(found.texts, found.describe(), record)


def setup_rehearsal(
    nlp: Language,
    T: dict[str, Any],
    train: Callable[[], Iterable[Example]],
    summary: DataSummary,
    recorded: Mapping[str, Any] | None = None,
) -> RehearsalSetup:
    """Annotate the rehearsal texts (and, with fill_in, the new examples: train, whose summary is given) with the
    base pipeline; RETURNS what the training data is to take from it.

    recorded: what a resumed run rehearsed (its meta.json "rehearsal"); None for a fresh run.
    """
    settings = T["rehearsal"]
    base = nlp.config["paths"].get("base_model")
    if not base:
        raise RecipeError(Errors.E068)
    teacher = load_pipeline(base)
    components = rehearsed_components(nlp, teacher)
    if not components:
        return RehearsalSetup(
            None, None, ("rehearsal: no trained component comes from the base model; nothing to rehearse",)
        )
    factories = {name: nlp.get_pipe_meta(name).factory for name in components}
    # Checked and filled in by the schema of [training.rehearsal] (config.schemas.RehearsalSchema).
    ratio = float(settings["ratio"])
    seed = T["seed"] or 0
    notes: list[str] = []
    filled: list[Example] | None = None
    if settings["fill_in"]:
        filled = list(fill_in(teacher, train(), components, factories))
        if "ner" in factories.values():
            entities = sum(summary.labels.get("entities", {}).values())
            added = sum(len(eg.reference.ents) for eg in filled) - entities
            notes.append(f"fill-in: the base model added {added:,} entities of the types the new data lacks")
    # The training examples as the run will see them.
    current = train if filled is None else (lambda: filled)
    chosen = rehearsal_texts(teacher, base, settings, seed, recorded)
    notes.extend(chosen.notes)
    done = partial(RehearsalSetup, filled=filled, warnings=chosen.warnings, record=chosen.record)
    if settings["mode"] == "distill":
        # spaCy's rehearsal: a separate update moving the scores toward those of a frozen copy of the component
        # made now (the base's weights, new labels included), on raw texts.
        texts = chosen.texts if chosen.texts is not None else [eg.reference.text for eg in current()]
        set_tutors(nlp, components, base)
        examples = [Example(nlp.make_doc(text), nlp.make_doc(text)) for text in texts]
        notes.append(
            f"rehearsal (distill): {len(examples):,} raw texts ({chosen.source}); "
            f"{ratio:g} per new example, in an nlp.rehearse() step after each update"
        )
        return done(Rehearsal(examples, ratio, seed=seed, distill=True), notes=tuple(notes))
    if chosen.texts is not None:
        examples = rehearsal_examples(teacher, nlp, chosen.texts, components, unannotated=settings["unannotated"])
        source = f"{chosen.source}, annotated by the base model"
    else:
        # The training texts: the base model's annotation where the new data has none (filled in), the new
        # data's where it has one, so the two never contradict each other.
        examples = filled if filled is not None else fill_in_copy(teacher, current(), components, factories)
        source = "the training texts, with the base model's annotation filled in"
    notes.append(
        f"rehearsal: {len(examples):,} examples ({source}) for {', '.join(components)}; {ratio:g} per new example in each batch"
    )
    return done(Rehearsal(examples, ratio, seed=seed), notes=tuple(notes))


def set_tutors(nlp: Language, components: list[str], base: str) -> None:
    """Give each component the frozen copy spaCy's rehearse() compares it with: the base's component, built as
    the trained one was (own tok2vec, the training data's new labels added), so a resumed run gets the same."""
    for name in components:
        proc = nlp.get_pipe(name)
        if not hasattr(proc, "_rehearsal_model"):
            continue
        tutor_nlp = load_pipeline(base)
        for t2v_name in listened_tok2vecs(tutor_nlp, name):
            paths = [".".join(p) for p in listener_paths(tutor_nlp.config["components"][name])]
            tutor_nlp.replace_listeners(t2v_name, name, paths)
        tutor = tutor_nlp.get_pipe(name)
        for label in getattr(proc, "labels", ()):
            if label not in tutor.labels:  # type: ignore[attr-defined]
                tutor.add_label(label)  # type: ignore[attr-defined]
        proc._rehearsal_model = tutor.model  # type: ignore[attr-defined]


def fill_in_copy(
    teacher: Language, examples: Iterable[Example], components: list[str], factories: dict[str, str]
) -> list[Example]:
    """Filled-in copies of the training examples (the examples themselves left as they are)."""
    copies = [Example(eg.predicted.copy(), eg.reference.copy()) for eg in examples]
    return list(fill_in(teacher, copies, components, factories))
