"""The base model's own training texts, for pseudo-rehearsal without RAW: texts of the domain the base learnt in
hold what it knew, where new texts of another domain hold little of it.

They are found through the base's meta.json "sources" (a recipe-train run records every training file with its
size and SHA-256; a file gone or changed is not used), or else through its config's training corpus, whose paths
are looked for from here and beside the model. They are read with the base's own corpus reader, streamed, and a
seeded sample is kept (reservoir sampling: one pass, the sample in memory, never the corpus).
"""

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalogue import RegistryError
from confection import ConfigValidationError
from spacy.language import Language
from spacy.util import registry

from ..config.build import describe_paths, section_at
from ..data.corpus import RecipeCorpus, corpus_files
from ..data.sources import changed, file_records, is_file_record
from ..errors import RecipeError


@dataclass(frozen=True)
class BaseTexts:
    """A sample of the base model's training texts, and the record of the files they were read from."""

    texts: list[str]
    total: int  # texts in the files
    files: list[dict[str, str]]

    def describe(self) -> str:
        names = ", ".join(record["path"] for record in self.files)
        share = f"all {self.total:,}" if len(self.texts) == self.total else f"{len(self.texts):,} of the {self.total:,}"
        return f"{share} texts of the base model's training data, {names}"


class NotFound(Exception):
    """Why the base model's training texts cannot be used (one line); warn: whether the user should be warned (a
    file recorded or used before is gone or changed), not only told."""

    def __init__(self, reason: str, *, warn: bool = False) -> None:
        super().__init__(reason)
        self.warn = warn


def base_training_texts(
    teacher: Language, base: str | Path, sample: int, seed: int, recorded: Sequence[Mapping[str, str]] | None = None
) -> BaseTexts:
    """A seeded sample of `sample` texts (all, if fewer) of the base model's training data.

    recorded: the files a resumed run read (then exactly those, unchanged, are read again).
    RAISES NotFound: with the reason, when they cannot be found, have changed or cannot be read.
    """
    records = [dict(r) for r in recorded] if recorded is not None else _recorded_sources(teacher)
    for record in records:
        why = changed(record)
        if why is not None:
            raise NotFound(f"the base model's training file {why}", warn=True)
    section = _train_corpus_section(teacher)
    if records:
        paths: list[Path] = [Path(record["path"]) for record in records]
    else:
        paths = _find_paths(section.get("path"), Path(base))
    reader = _reader(section, paths)
    if not records:
        records = file_records(corpus_files(reader) or paths)
    texts, total = reservoir_sample(_read(reader, teacher), sample, seed)
    if not texts:
        raise NotFound(f"the base model's training data ({describe_paths([str(p) for p in paths])}) holds no text")
    return BaseTexts(texts, total, records)


def _recorded_sources(teacher: Language) -> list[dict[str, str]]:
    return [dict(source) for source in teacher.meta.get("sources") or [] if is_file_record(source)]


def _train_corpus_section(teacher: Language) -> dict[str, Any]:
    try:
        config = teacher.config.interpolate()
        section = section_at(config, config["training"]["train_corpus"])
    except (KeyError, TypeError, ConfigValidationError):
        raise NotFound("the base model's config names no training corpus") from None
    if not isinstance(section, dict) or "@readers" not in section:
        raise NotFound("the base model's config names no training corpus reader")
    return dict(section)


def _find_paths(value: Any, base: Path) -> list[Path]:
    """The base's training paths as its config names them: absolute, or relative to where it was trained, which
    is looked for here and in the model's folder and the two above it."""
    if not value:
        raise NotFound("the base model records no training files and its config names none")
    found = []
    for each in value if isinstance(value, (list, tuple)) else [value]:
        path = Path(each)
        places = [path] if path.is_absolute() else [Path.cwd() / path] + [d / path for d in _near(base)]
        there = next((place for place in places if place.exists()), None)
        if there is None:
            raise NotFound(f"the base model's config names {each} as its training data, which is not found here")
        found.append(there.resolve())
    return found


def _near(base: Path) -> list[Path]:
    if not base.is_dir():  # an installed package: no folder of its own to look beside
        return []
    base = base.resolve()
    return [base, *list(base.parents)[:2]]


def _reader(section: dict[str, Any], paths: list[Path]) -> Any:
    """The base's training corpus reader, reading `paths`, without the augmenter (texts as they were)."""
    section = {**section, "path": paths if len(paths) > 1 else paths[0]}
    if "augmenter" in section:
        section["augmenter"] = None
    try:
        return registry.resolve({"corpus": section})["corpus"]
    except RegistryError:
        raise NotFound(f"the base model's training reader {section['@readers']} is not registered here") from None
    except (ConfigValidationError, RecipeError, ValueError, TypeError) as e:
        reason = " ".join(str(e).split())
        raise NotFound(f"the base model's training reader cannot be made: {reason}") from None


def _read(reader: Any, teacher: Language) -> Iterator[str]:
    """The texts the reader gives, streamed (a recipe.Corpus's documents, without making examples of them), without
    the whitespace token-per-line formats leave after the last token."""
    try:
        if isinstance(reader, RecipeCorpus):
            yield from (doc.text.strip() for doc in reader.reference_docs(teacher))
        else:
            yield from (eg.reference.text.strip() for eg in reader(teacher))
    except (RecipeError, OSError, ValueError, KeyError) as e:
        raise NotFound(f"the base model's training data cannot be read: {' '.join(str(e).split())}") from None


def reservoir_sample(texts: Iterator[str], k: int, seed: int) -> tuple[list[str], int]:
    """A uniform sample of k texts (reservoir sampling, seeded; all if fewer), in their order in the data, and
    how many there were."""
    rng = random.Random(f"rehearsal-sample-{seed}")
    kept: list[tuple[int, str]] = []
    n = 0
    for text in texts:
        if not text.strip():
            continue
        n += 1
        if len(kept) < k:
            kept.append((n, text))
        else:
            j = rng.randrange(n)
            if j < k:
                kept[j] = (n, text)
    return [text for _, text in sorted(kept)], n
