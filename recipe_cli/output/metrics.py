"""OUT/metrics.jsonl: one JSON line per epoch."""

import errno
import os
from pathlib import Path
from typing import Any, TypedDict

import srsly


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
    """Append one row as a single line, in one write, and flush it to disk."""
    line = (srsly.json_dumps(plain(row)) + "\n").encode("utf8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, line)
        if written != len(line):  # pragma: no cover (only a full disk writes part of a line)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        os.fsync(fd)
    finally:
        os.close(fd)


def write_rows(path: Path, rows: list[MetricsRow]) -> None:
    """Replace a metrics file by these rows, at once (written beside it, then renamed)."""
    tmp = Path(path).parent / f".{Path(path).name}.tmp"
    tmp.write_text("".join(srsly.json_dumps(plain(row)) + "\n" for row in rows), encoding="utf8")
    os.replace(tmp, path)


def read_rows(path: Path) -> list[MetricsRow]:
    """All rows of a metrics file, in order (a last line cut short by a crash is left out)."""
    rows = []
    lines = Path(path).read_text(encoding="utf8").splitlines()
    for i, line in enumerate(lines):
        try:
            rows.append(srsly.json_loads(line))
        except ValueError:
            if i < len(lines) - 1:
                raise
    return rows


def plain(value: Any) -> Any:
    """Replace numpy scalars (losses, some scores) by Python numbers, recursively, for JSON."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def training_speed(rows: list[MetricsRow]) -> tuple[int, float, str]:
    """Training words, the seconds of the updates that saw them, and which epochs, over the same rows.

    Rows count words cumulatively: from epoch 1 on, the last row's count is every epoch's words. Rows that
    start later leave out their first row, whose own words are not known apart from the epochs before it.
    """
    before = 0
    if rows[0]["epoch"] != 1 and len(rows) > 1:
        before, rows = rows[0]["words"], rows[1:]
    words = rows[-1]["words"] - before
    return words, sum(row["train_seconds"] for row in rows), f"epochs {rows[0]['epoch']}-{rows[-1]['epoch']}"
