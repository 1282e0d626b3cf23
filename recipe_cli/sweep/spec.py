"""The sweep spec (YAML): tasks × variants (× grid points) × seeds, validated once, and the trials it makes.

    tasks:                      # name → one recipe-train problem
      wnut17:
        component: ner
        train: data/wnut17-train.conll      # a path or a list; relative to the spec's folder
        dev: data/wnut17-dev.conll          # optional: without it recipe-train holds out 10% of train
        test: data/wnut17-test.conll        # scored with recipe-eval on each trial's model-best
        format: iob                         # optional, as recipe-train --format; lang, config likewise
    seeds: [1, 2, 3]                        # or a count: 3 means seeds 1, 2, 3
    common: {training.max_epochs: 10}       # overrides for every trial
    variants:                               # name → overrides (and optional config: FILE, seeds: [...]), or a file
      recipe: {}
      no-averaging: {training.optimizer.use_averages: false, seeds: 3}   # this variant on seeds 1-3 only
      no-dropout: {training.dropout: 0.0, tasks: [wnut17]}               # this variant on these tasks only
      spacy-default: spacy-default-ner.cfg
    grid: {training.optimizer.learn_rate: [0.001, 0.002]}   # optional: every variant at every grid point
    metric: score                           # a key of recipe-eval's scores; default: the main score
    baseline: recipe                        # what the report compares with; default: "recipe", else the first
    resources: {cpus: 1, gpus: 0}           # per trial: threads (OMP/OPENBLAS/MKL) and GPUs

Paths are resolved against the spec's folder and stored absolute. A trial's id (task/variant/seed-N) does not
depend on the order of the spec, and its fingerprint (the settings that decide its result: the spec's, what the
config files it names hold, and the packaged defaults it starts from) tells a finished trial from one the spec, a
config file or a default has since changed.
"""

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import srsly
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from ..config.build import COMPONENTS, default_config_path
from ..errors import Errors, RecipeError

# The part of a trial's folder under SWEEP.
TRIALS_DIR = "trials"
# The metric when the spec names none: the main score recipe-eval reports (spaCy's weighted score).
DEFAULT_METRIC = "score"
DEFAULT_BASELINE = "recipe"
# A name is one folder of a path: letters, digits and . _ - = + , only.
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-=+,")

Paths = StrictStr | list[StrictStr]
Scalar = StrictStr | int | float | bool | None


class TaskSchema(BaseModel):
    # fmt: off
    component: StrictStr = Field(..., title="Component to train (as recipe-train COMPONENT)")
    train: Paths = Field(..., title="Training data")
    dev: Paths | None = Field(None, title="Dev data (default: 10% of train held out)")
    test: Paths = Field(..., title="Test data, scored on each trial's model-best")
    format: StrictStr | None = Field(None, title="Data format (as recipe-train --format)")
    lang: StrictStr | None = Field(None, title="Language code (as recipe-train --lang)")
    config: StrictStr | None = Field(None, title="A config file for this task's trials (as recipe-train -c)")
    overrides: dict[StrictStr, Scalar | list[Scalar]] = Field({}, title="Overrides for this task's trials")
    # fmt: on
    model_config = ConfigDict(extra="forbid")


class ResourcesSchema(BaseModel):
    # fmt: off
    cpus: StrictInt = Field(1, ge=1, title="Threads per trial (OMP/OPENBLAS/MKL_NUM_THREADS); Ray CPUs")
    gpus: StrictInt = Field(0, ge=0, le=1, title="GPUs per trial (0 or 1); the trial trains with --gpu-id")
    # fmt: on
    model_config = ConfigDict(extra="forbid")


class SpecSchema(BaseModel):
    # fmt: off
    tasks: dict[StrictStr, TaskSchema] = Field(..., min_length=1, title="Task name → task")
    seeds: list[StrictInt] | StrictInt = Field(..., title="Seeds, or how many (1..N)")
    common: dict[StrictStr, Scalar | list[Scalar]] = Field({}, title="Overrides for every trial")
    variants: dict[StrictStr, dict[StrictStr, Scalar | list[Scalar]] | StrictStr | None] = Field({DEFAULT_BASELINE: {}}, min_length=1, title="Variant name → overrides, or a config file")
    grid: dict[StrictStr, list[Scalar]] = Field({}, title="Override → values; every variant runs at every combination")
    metric: StrictStr = Field(DEFAULT_METRIC, title="Score compared across variants (a key of recipe-eval's scores)")
    baseline: StrictStr | None = Field(None, title="Variant the others are compared with")
    resources: ResourcesSchema = Field(ResourcesSchema(), title="Per-trial resources")
    # fmt: on
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Task:
    name: str
    component: str
    train: list[str]
    dev: list[str]
    test: list[str]
    format: str | None = None
    lang: str | None = None
    config: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trial:
    """One recipe-train run: a task, a variant, a seed, and every override it trains with."""

    task: Task
    variant: str
    seed: int
    overrides: dict[str, Any]
    config: str | None
    metric: str
    cpus: int
    gpus: int
    # The --code file every process of the trial imports (its full path), or None.
    code: str | None = None
    # Where an earlier spec ran this trial shorter (only training.max_epochs, max_steps or patience differ, each
    # lengthening the run): those settings, which continue its run (--resume) instead of starting it again.
    extend: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.task.name}/{self.variant}/seed-{self.seed}"

    def folder(self, sweep: Path) -> Path:
        return Path(sweep) / TRIALS_DIR / self.task.name / self.variant / f"seed-{self.seed}"

    @property
    def fingerprint(self) -> str:
        """A hash of what decides the trial's result: data, component, config (its path and what it holds), the
        packaged defaults it starts from (a changed default is another trial), overrides, seed."""
        settings = {
            "component": self.task.component,
            "train": self.task.train,
            "dev": self.task.dev,
            "test": self.task.test,
            "format": self.task.format,
            "lang": self.task.lang,
            "config": self.config,
            "config_text": _file_digest(self.config) if self.config else None,
            "defaults": [_file_digest(str(default_config_path(c.strip()))) for c in self.task.component.split(",")],
            "overrides": self.overrides,
            "seed": self.seed,
        }
        if self.code:  # (absent otherwise: the fingerprints of sweeps without --code stay as they were)
            settings.update({"code": self.code, "code_text": _file_digest(self.code)})
        text = json.dumps(settings, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf8")).hexdigest()[:16]


def _file_digest(path: str) -> str:
    """A short hash of a file's bytes ("" where it cannot be read: the trial then fails on its own line)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


@dataclass(frozen=True)
class Spec:
    path: Path
    tasks: list[Task]
    seeds: list[int]
    variants: dict[str, dict[str, Any]]
    metric: str
    baseline: str
    cpus: int
    gpus: int
    raw: dict[str, Any]
    # recipe-sweep --code: a file of registered functions each trial imports (its full path), or None.
    code: str | None = None

    def trials(self) -> list[Trial]:
        """Every trial, task by task, variant by variant, seed by seed."""
        trials = []
        for task in self.tasks:
            for variant, settings in self.variants.items():
                settings = dict(settings)
                config = settings.pop("config", None) or task.config
                seeds = settings.pop("seeds", None) or self.seeds
                if task.name not in (settings.pop("tasks", None) or [task.name]):
                    continue
                overrides = {**self.raw.get("common", {}), **task.overrides, **settings}
                for seed in seeds:
                    trial = Trial(task, variant, seed, overrides, config, self.metric, cpus=self.cpus,
                                  gpus=self.gpus, code=self.code)  # fmt: skip
                    trials.append(trial)
        return trials


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file; every problem is one RecipeError naming the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(Errors.E080.format(path=path))
    try:
        raw = srsly.read_yaml(path)
    except Exception as e:  # noqa: BLE001 — any YAML error is the user's file
        detail = " ".join(str(e).split())
        raise RecipeError(Errors.E081.format(path=path, key="(file)", error=f"not valid YAML: {detail}")) from None
    if not isinstance(raw, dict):
        raise RecipeError(Errors.E081.format(path=path, key="(file)", error="expected a mapping of keys to values"))
    return parse_spec(raw, path)


def parse_spec(raw: dict[str, Any], path: Path) -> Spec:
    try:
        schema = SpecSchema.model_validate(raw)
    except ValidationError as e:
        error = e.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or "(file)"
        message = error["msg"].removeprefix("Value error, ")
        raise RecipeError(Errors.E081.format(path=path, key=key, error=message)) from None
    base = path.resolve().parent
    tasks = [_task(name, task, base, path) for name, task in schema.tasks.items()]
    seeds = _seeds(schema.seeds, "seeds", path)
    variants = _variants(schema, base, path, [task.name for task in tasks])
    baseline = schema.baseline or (DEFAULT_BASELINE if DEFAULT_BASELINE in variants else next(iter(variants)))
    if baseline not in variants:
        raise RecipeError(
            Errors.E081.format(
                path=path, key="baseline", error=f"no variant {baseline!r} (variants: {', '.join(variants)})"
            )
        )
    plain = {**schema.model_dump(), "common": dict(schema.common)}
    return Spec(path.resolve(), tasks, seeds, variants, schema.metric, baseline, schema.resources.cpus,
                schema.resources.gpus, plain)  # fmt: skip


def _task(name: str, task: TaskSchema, base: Path, spec: Path) -> Task:
    _check_name(name, f"tasks.{name}", spec)
    for component in task.component.split(","):
        if component.strip() not in COMPONENTS:
            error = f"{component.strip()!r} is not one of {', '.join(COMPONENTS)}"
            raise RecipeError(Errors.E081.format(path=spec, key=f"tasks.{name}.component", error=error))

    def paths(value: str | list[str] | None, key: str, required: bool = True) -> list[str]:
        values = [value] if isinstance(value, str) else list(value or [])
        if required and not values:
            raise RecipeError(Errors.E081.format(path=spec, key=f"tasks.{name}.{key}", error="no path given"))
        resolved = [str((base / v).resolve()) if not _is_glob(v) else str(base / v) for v in values]
        for value, full in zip(values, resolved, strict=True):
            if not _is_glob(value) and not Path(full).exists():
                raise RecipeError(
                    Errors.E081.format(path=spec, key=f"tasks.{name}.{key}", error=f"no such file: {full}")
                )
        return resolved

    config = paths(task.config, "config")[0] if task.config else None
    return Task(name, task.component, paths(task.train, "train"), paths(task.dev, "dev", required=False),
                paths(task.test, "test"), task.format, task.lang, config, dict(task.overrides))  # fmt: skip


def _variants(schema: SpecSchema, base: Path, spec: Path, tasks: list[str]) -> dict[str, dict[str, Any]]:
    variants: dict[str, dict[str, Any]] = {}
    for name, given in schema.variants.items():
        _check_name(name, f"variants.{name}", spec)
        # A variant given as a string is a whole config file (as recipe-train -c).
        settings: dict[str, Any] = {"config": given} if isinstance(given, str) else dict(given or {})
        if "config" in settings:
            config = base / str(settings["config"])
            if not config.is_file():
                raise RecipeError(Errors.E081.format(path=spec, key=f"variants.{name}.config", error=f"no such file: {config.resolve()}"))  # fmt: skip
            settings["config"] = str(config.resolve())
        if "seeds" in settings:
            settings["seeds"] = _seeds(settings["seeds"], f"variants.{name}.seeds", spec)
        if "tasks" in settings:
            settings["tasks"] = _variant_tasks(settings["tasks"], f"variants.{name}.tasks", spec, tasks)
        for key in settings:
            if key not in ("config", "seeds", "tasks") and "." not in key:
                raise RecipeError(Errors.E081.format(path=spec, key=f"variants.{name}.{key}", error="not a dotted config path (section.key)"))  # fmt: skip
        variants[name] = settings
    for key, values in schema.grid.items():
        if "." not in key or not values:
            raise RecipeError(Errors.E081.format(path=spec, key=f"grid.{key}", error="needs a dotted config path and at least one value"))  # fmt: skip
    for key in schema.common:
        if "." not in key:
            raise RecipeError(Errors.E081.format(path=spec, key=f"common.{key}", error="not a dotted config path (section.key)"))  # fmt: skip
    if not schema.grid:
        return variants
    keys = list(schema.grid)
    crossed: dict[str, dict[str, Any]] = {}
    for name, settings in variants.items():
        for point in itertools.product(*(schema.grid[key] for key in keys)):
            label = ",".join(
                f"{key.rsplit('.', 1)[-1]}={json.dumps(value)}" for key, value in zip(keys, point, strict=True)
            )
            label = "".join(c if c in _NAME_CHARS else "_" for c in label)
            full = label if len(variants) == 1 and name == DEFAULT_BASELINE and not settings else f"{name}+{label}"
            crossed[full] = {**settings, **dict(zip(keys, point, strict=True))}
    return crossed


def _variant_tasks(value: Any, key: str, spec: Path, tasks: list[str]) -> list[str]:
    """The tasks a variant runs on: a list of the spec's task names (or one name)."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise RecipeError(Errors.E081.format(path=spec, key=key, error="a list of the spec's task names"))
    unknown = [n for n in names if n not in tasks]
    if unknown:
        error = f"no task {unknown[0]!r} (tasks: {', '.join(tasks)})"
        raise RecipeError(Errors.E081.format(path=spec, key=key, error=error))
    return list(dict.fromkeys(names))


def _seeds(value: Any, key: str, spec: Path) -> list[int]:
    """Seeds as given (a list), or a count N: seeds 1..N."""
    if isinstance(value, bool) or not isinstance(value, int | list):
        raise RecipeError(Errors.E081.format(path=spec, key=key, error="seeds are a list of integers or a count"))
    seeds = list(range(1, value + 1)) if isinstance(value, int) else list(value)
    if (
        not seeds
        or len(set(seeds)) != len(seeds)
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise RecipeError(Errors.E081.format(path=spec, key=key, error="needs at least one seed, none twice"))
    return seeds


def is_name(name: str) -> bool:
    """A name of a task or variant: one folder of a path, letters, digits and . _ - = + , only."""
    return bool(name) and set(name) <= _NAME_CHARS and not name.startswith(".")


def _check_name(name: str, key: str, spec: Path) -> None:
    if not is_name(name):
        raise RecipeError(Errors.E081.format(path=spec, key=key, error="a name may hold letters, digits and . _ - = + , only"))  # fmt: skip


def _is_glob(value: str) -> bool:
    return any(c in value for c in "*?[")
