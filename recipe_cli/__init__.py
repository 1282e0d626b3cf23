"""recipe-train: train spaCy pipelines with a well-tried recipe."""

from importlib.metadata import PackageNotFoundError, version

# Importing these modules registers their functions (readers, schedules, the console logger).
from . import console, readers, schedules  # noqa: F401

try:
    __version__ = version("recipe-train")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"
