"""OUT/metrics.jsonl: one JSON line per epoch."""

from pathlib import Path
from typing import Any, TypedDict

import srsly

METRICS_FILE = "metrics.jsonl"


class MetricsRow(TypedDict):
    epoch: int
    step: int
    words: int
    losses: dict[str, float]
    dropout: float
    batch_size: int
    learn_rate: float
    score: float
    scores: dict[str, Any]
    best: bool
    seconds: float
    train_seconds: float
    checkpoint_seconds: float


def append_row(path: Path, row: MetricsRow) -> None:
    """Append one row as a single line and flush it to disk."""
    line = srsly.json_dumps(plain(row)) + "\n"
    with Path(path).open("a", encoding="utf8") as file:
        file.write(line)
        file.flush()


def read_rows(path: Path) -> list[MetricsRow]:
    """All rows of a metrics file, in order."""
    return list(srsly.read_jsonl(path))  # type: ignore[arg-type]


def plain(value: Any) -> Any:
    """Replace numpy scalars (losses, some scores) by Python numbers, recursively, for JSON."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value
