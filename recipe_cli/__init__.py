"""recipe-train: train spaCy pipelines with a well-tried recipe."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("recipe-train")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

# Importing these modules registers their functions (the corpus reader, schedules, the console logger).
from .data import corpus  # noqa: E402, F401
from .display import console  # noqa: E402, F401
from .training import schedules  # noqa: E402, F401
