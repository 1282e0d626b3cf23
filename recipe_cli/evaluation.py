"""Scoring a saved pipeline on data in any format the training command reads."""

from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.training import Example
from spacy.training.loop import create_evaluation_callback
from spacy.util import load_model

from .errors import Errors, RecipeError
from .readers import RecipeCorpus


def load_pipeline(model: str | Path) -> Language:
    """Load a pipeline folder or an installed package, as spacy.load does."""
    try:
        return load_model(model)
    except (OSError, ValueError, KeyError) as e:  # spaCy's E050/E053 and broken folders
        raise RecipeError(Errors.E051.format(path=model, error=" ".join(str(e).split()))) from None


def read_examples(nlp: Language, path: Path) -> list[Example]:
    """Examples from a data file, tokenised as the model's own dev corpus would be."""
    dev_cfg = nlp.config.get("corpora", {}).get("dev", {})
    sents = dev_cfg.get("sents_per_doc", 1) if isinstance(dev_cfg.get("sents_per_doc", 1), int) else 1
    corpus = RecipeCorpus(path, format="auto", sents_per_doc=sents, holdout=0.0, part="all", seed=0)
    examples = list(corpus(nlp))
    if not examples:
        raise RecipeError(Errors.E028.format(path=path))
    return examples


def score(nlp: Language, examples: list[Example]) -> tuple[float, dict[str, Any]]:
    """spaCy's dev scores and the main score weighted by the pipeline's [training.score_weights]."""
    weights = nlp.config["training"]["score_weights"]
    return create_evaluation_callback(nlp, lambda _: examples, weights)()


def evaluate(model: str | Path, data: Path) -> dict[str, Any]:
    """Score a pipeline on a data file.

    RETURNS (Dict[str, Any]): {"model", "data", "score" (main score), "scores" (spaCy's), "words"}.
    """
    nlp = load_pipeline(model)
    examples = read_examples(nlp, Path(data))
    main, scores = score(nlp, examples)
    return {
        "model": str(model),
        "data": str(data),
        "score": main,
        "scores": scores,
        "words": sum(len(eg.reference) for eg in examples),
    }
