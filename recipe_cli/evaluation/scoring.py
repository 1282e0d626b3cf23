"""Scoring pipelines: one pipeline on data, or every epoch of a training run.

Scores are spaCy's own (Language.evaluate with spaCy's Scorer), so they equal `spacy evaluate`;
per-label tables, supports and the main score are added beside them.
"""

import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confection import ConfigValidationError
from spacy.language import Language, _copy_examples, _replace_numpy_floats
from spacy.scorer import Scorer
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus, Example, validate_examples
from spacy.util import registry

from ..config.build import config_paths, one_line, section_at
from ..config.code import import_code
from ..data.annotations import REQUIRED_ANNOTATIONS, missing_annotations
from ..data.corpus import RecipeCorpus
from ..errors import Errors, RecipeError, Warnings
from ..errors import one_line as error_line
from ..output.failures import stage
from ..output.layout import DIR_MODEL_BEST, METRICS_FILE, epoch_dir, read_run_file, run_path
from ..output.metrics import read_rows
from ..pipeline import load_pipeline
from .per_label import per_label_tables


@dataclass
class EvalData:
    """Reference documents, read once and turned into Examples for each pipeline that is scored."""

    paths: list[str]
    docs: list[Doc]
    gold_preproc: bool = False
    _docbin: bytes | None = None

    def examples(self, nlp: Language) -> list[Example]:
        """Examples made as spaCy's Corpus makes them, with docs in this pipeline's vocab."""
        docs = self.docs if not self.docs or self.docs[0].vocab is nlp.vocab else self._in_vocab(nlp)
        make = Corpus("", gold_preproc=self.gold_preproc)
        return list(make.make_examples_gold_preproc(nlp, docs) if self.gold_preproc else make.make_examples(nlp, docs))

    def _in_vocab(self, nlp: Language) -> list[Doc]:
        # Another pipeline's vocab (the epochs of a run): copy the docs over through one DocBin.
        if self._docbin is None:
            self._docbin = DocBin(docs=self.docs, store_user_data=False).to_bytes()
        return list(DocBin().from_bytes(self._docbin).get_docs(nlp.vocab))


def read_data(
    nlp: Language, paths: Sequence[Path], data_format: str = "auto", label_config: Path | None = None
) -> EvalData:
    """Read data files in any supported format, tokenised as the pipeline's own dev corpus was.

    label_config (Path): a Label Studio project's labeling config, naming the annotation fields of its exports.
    """
    # Interpolated: the packaged configs set the dev corpus's value as ${corpora.train.sents_per_doc}.
    dev_cfg = nlp.config.interpolate().get("corpora", {}).get("dev", {})
    sents = dev_cfg.get("sents_per_doc", 1)
    sents = sents if isinstance(sents, int) else 1
    docs: list[Doc] = []
    for path in paths:
        corpus = RecipeCorpus(path, format=data_format, sents_per_doc=sents, holdout=0.0, part="all", seed=0,
                              label_config=str(label_config) if label_config is not None else None)  # fmt: skip
        n = len(docs)
        docs.extend(corpus.reference_docs(nlp))
        if len(docs) == n:
            raise RecipeError(Errors.E028.format(path=path))
    return EvalData(paths=[str(p) for p in paths], docs=docs)


def recorded_dev_data(nlp: Language, run_dir: Path) -> EvalData:
    """The dev data a training run used, read as its saved config says (held-out part included)."""
    run = read_run_file(run_dir) or {}
    config = nlp.config.interpolate()
    section = dict(section_at(config, config["training"]["dev_corpus"]))
    value = section.get("path")
    paths = [Path(str(p)) for p in value] if isinstance(value, (list, tuple)) else [Path(str(value))]
    # Relative paths are relative to the folder training ran in.
    paths = [Path(run_path(str(p), run)) for p in paths]
    section["path"] = config_paths(paths)
    if section.get("label_config"):
        section["label_config"] = run_path(str(section["label_config"]), run)
    # Resolved under its own name, so that a bad setting is named as in the config ("corpora.dev.limit: ...").
    *where, name = config["training"]["dev_corpus"].split(".")
    try:
        corpus = registry.resolve({name: section})[name]
    except (ConfigValidationError, ValueError) as e:
        why = one_line(e, prefix=".".join([*where, ""])) if isinstance(e, ConfigValidationError) else error_line(e)
        raise RecipeError(Errors.E051.format(path=run_dir, error=f"its dev corpus cannot be read: {why}")) from None
    docs = [eg.reference for eg in corpus(nlp)]
    return EvalData(paths=[str(p) for p in paths], docs=docs, gold_preproc=bool(section.get("gold_preproc")))


def score(nlp: Language, examples: list[Example], *, per_label: bool = True) -> dict[str, Any]:
    """spaCy's scores, the main score (weighted by [training.score_weights]), speed and per-label tables.

    RETURNS (Dict[str, Any]): {"score", "scores", "speed", "words", "per_label"}.
    """
    check_data(nlp, examples)
    scorer = _KeepingScorer(nlp=nlp)
    scores = nlp.evaluate(examples, scorer=scorer)
    result = {
        "score": main_score(scores, nlp.config["training"]["score_weights"]),
        "scores": scores,
        "speed": scores.get("speed"),
        "words": sum(len(eg.reference) for eg in examples),
    }
    if per_label:
        result["per_label"] = per_label_tables(scores, scorer.examples)
    return result


def main_score(scores: dict[str, Any], weights: dict[str, float | None]) -> float:
    """The weighted sum spaCy's training loop uses to pick the best model."""
    weights = {key: w for key, w in weights.items() if w is not None and key in scores}
    return float(sum(scores[key] * w for key, w in weights.items() if isinstance(scores[key], (int, float))))


def check_data(nlp: Language, examples: list[Example]) -> None:
    """Refuse data that cannot score this pipeline: no annotation it predicts, or labels it does not know."""
    factories = {name: nlp.get_pipe_meta(name).factory for name in nlp.pipe_names}
    components = {name: factory for name, factory in factories.items() if factory in REQUIRED_ANNOTATIONS}
    missing = missing_annotations(examples, components)
    if components and len(missing) == len(components):
        what = ", ".join(f"{what} ({name})" for name, what in missing.items())
        raise RecipeError(Errors.E052.format(what=what))
    for name, what in missing.items():
        warnings.warn(Warnings.W001.format(what=what, name=name), stacklevel=2)
    for name, factory in components.items():
        known = set(nlp.get_pipe(name).labels)  # type: ignore[attr-defined]
        if factory in ("ner", "beam_ner"):
            gold = {ent.label_ for eg in examples for ent in eg.reference.ents}
        elif factory in ("textcat", "textcat_multilabel"):
            gold = {label for eg in examples for label in eg.reference.cats}
        else:
            continue
        unknown = sorted(gold - known)
        if unknown:
            raise RecipeError(Errors.E053.format(labels=", ".join(unknown), name=name, known=", ".join(sorted(known))))


def evaluate(
    model: str | Path,
    data: Sequence[Path],
    *,
    per_label: bool = True,
    data_format: str = "auto",
    label_config: Path | None = None,
) -> dict[str, Any]:
    """Score one pipeline on data files (label_config: as for read_data).

    RETURNS (Dict[str, Any]): {"model", "data", "score", "scores", "speed", "words", "per_label"}.
    """
    nlp = load_pipeline(model)
    if not data:
        raise RecipeError(Errors.E054.format(model=model))
    eval_data = read_data(nlp, data, data_format, label_config)
    # An exception inside spaCy's pipeline or scorer: one line (the CLI writes the traceback to a file).
    with stage("Scoring", f" for {model}"):
        result = score(nlp, eval_data.examples(nlp), per_label=per_label)
    return {"model": str(model), "data": eval_data.paths, **result}


def evaluate_run(
    run_dir: Path,
    data: Sequence[Path] = (),
    *,
    per_label: bool = True,
    data_format: str = "auto",
    label_config: Path | None = None,
) -> dict[str, Any]:
    """Score every epoch of a training run on data (default: the dev data the run recorded; label_config: as for
    read_data).

    The --code file the run recorded is imported first. Each epoch's pipeline is loaded once; model-best and model-last are copies of epochs and
    are not loaded again. The data is read once.
    RETURNS (Dict[str, Any]): {"run", "data", "epochs": [...], "best_epoch", "best_epoch_on_data", "best": {...}}.
    """
    run_dir = Path(run_dir)
    rows = {row["epoch"]: row for row in read_rows(run_dir / METRICS_FILE)}
    # The functions the run's --code registered, which its pipelines' configs name, as --resume imports them.
    run = read_run_file(run_dir) or {}
    import_code(run_path(run.get("code"), run))
    epochs = sorted(e for e in rows if (run_dir / epoch_dir(e)).is_dir())
    if not epochs:
        raise RecipeError(Errors.E051.format(path=run_dir, error="no epoch folders listed in metrics.jsonl"))
    dev_best = max(epochs, key=lambda e: (rows[e]["score"], -e))  # ties keep the earlier epoch
    eval_data: EvalData | None = None
    scored: dict[int, dict[str, Any]] = {}
    for epoch in epochs:
        nlp = load_pipeline(run_dir / epoch_dir(epoch))
        if eval_data is None:
            eval_data = read_data(nlp, data, data_format, label_config) if data else recorded_dev_data(nlp, run_dir)
        with stage("Scoring", f" for epoch {epoch} of {run_dir}"):
            scored[epoch] = score(nlp, eval_data.examples(nlp), per_label=per_label and epoch == dev_best)
    assert eval_data is not None
    results = [{"epoch": e, "dev_score": rows[e]["score"], "best": e == dev_best, **r} for e, r in scored.items()]
    on_data = max(results, key=lambda r: (r["score"], -r["epoch"]))
    return {
        "run": str(run_dir),
        "model": str(run_dir / DIR_MODEL_BEST),
        "data": eval_data.paths,
        "epochs": [{k: v for k, v in r.items() if k != "per_label"} for r in results],
        "best_epoch": dev_best,
        "best_epoch_on_data": on_data["epoch"],
        **scored[dev_best],
    }


def check_thresholds(scores: dict[str, Any], minimums: dict[str, float]) -> list[str]:
    """The thresholds that do not hold, as 'name=value < bound'.

    A name that is not a score of the pipeline is an error, not a failed threshold.
    """
    numeric = {name: value for name, value in scores.items() if isinstance(value, (int, float))}
    unknown = [name for name in minimums if name not in numeric]
    if unknown:
        raise RecipeError(Errors.E056.format(names=", ".join(unknown), scores=", ".join(sorted(numeric))))
    return [f"{name}={numeric[name]:.4f} < {bound}" for name, bound in minimums.items() if numeric[name] < bound]


class _KeepingScorer(Scorer):
    """spaCy's Scorer, keeping the scored examples (with predictions) for the per-label tables."""

    examples: list[Example]

    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        self.examples = list(examples)
        return super().score(self.examples, **kwargs)


class DevEvaluation:
    """The pipeline as spaCy's evaluation callback sees it, for a run's dev data: nlp.evaluate, with what depends
    on nothing that training changes done at the first evaluation only.

    The tokenizer and the dev texts stay as they are, so the tokenizer's scores (token_acc, token_p/r/f) and
    the time it takes to tokenize the texts (which spaCy measures, for the speed score, by rebuilding each text
    and tokenizing it again) are measured once; together they take more than half the time of scoring a small
    dev set. The scores are nlp.evaluate's; speed is words over tokenizing (first measured) and pipeline time.
    """

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self.scorer = _TokenizationOnce(nlp)
        self.tokenize_seconds: float | None = None

    def evaluate(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        if kwargs:
            return self.nlp.evaluate(examples, scorer=self.scorer, **kwargs)
        examples = list(examples)
        validate_examples(examples, "Language.evaluate")
        examples = _copy_examples(examples)
        if self.tokenize_seconds is None:
            start = time.perf_counter()
            for eg in examples:
                self.nlp.make_doc(eg.reference.text)
            self.tokenize_seconds = time.perf_counter() - start
        start = time.perf_counter()
        for eg, doc in zip(examples, self.nlp.pipe(eg.predicted for eg in examples), strict=True):
            eg.predicted = doc
        seconds = self.tokenize_seconds + time.perf_counter() - start
        results = self.scorer.score(examples)
        results["speed"] = sum(len(eg.predicted) for eg in examples) / seconds
        return _replace_numpy_floats(results)


class _TokenizationOnce(Scorer):
    """spaCy's Scorer, keeping the tokenizer's scores of the first examples it scores."""

    tokenization: dict[str, Any] | None = None

    def score(self, examples: Iterable[Example], *, per_component: bool = False) -> dict[str, Any]:
        if per_component or not hasattr(self.nlp.tokenizer, "score"):
            return super().score(examples, per_component=per_component)
        examples = list(examples)
        if self.tokenization is None:
            self.tokenization = self.nlp.tokenizer.score(examples, **self.cfg)
        scores = dict(self.tokenization)
        for _, component in self.nlp.pipeline:
            if hasattr(component, "score"):
                scores.update(component.score(examples, **self.cfg))
        return scores
