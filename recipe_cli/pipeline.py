"""What several layers ask of a spaCy pipeline: loading one, and which of its components are trained."""

from pathlib import Path

from catalogue import RegistryError
from confection import ConfigValidationError
from spacy.language import Language
from spacy.util import load_model

from .errors import Errors, RecipeError, unregistered


def load_pipeline(model: str | Path) -> Language:
    """Load a pipeline folder or an installed package, as spacy.load does."""
    path = Path(model)
    if path.is_dir() and not (path / "config.cfg").exists():
        raise RecipeError(Errors.E051.format(path=model, error="no config.cfg: not a spaCy pipeline folder"))
    try:
        return load_model(model)
    # spaCy's E050/E053, broken folders, unknown factories, a package a pipeline needs but lacks.
    except RegistryError as e:  # a function the pipeline's config names, registered by no code imported here
        raise RecipeError(Errors.E051.format(path=model, error=unregistered(e))) from None
    except (OSError, ValueError, KeyError, ImportError, ConfigValidationError) as e:
        raise RecipeError(Errors.E051.format(path=model, error=" ".join(str(e).split()))) from None


def trained_components(nlp: Language) -> dict[str, str]:
    """Name → factory of the components that will be updated."""
    frozen = set(nlp.config["training"]["frozen_components"])
    return {
        name: nlp.get_pipe_meta(name).factory
        for name, proc in nlp.pipeline
        if name not in frozen and getattr(proc, "is_trainable", False)
    }
