"""Where a pipeline's training data came from, recorded so that it can be found and checked later.

A run records each training file it read (spaCy's meta.json "sources": name, absolute path, size in bytes and
SHA-256 of the bytes); pseudo-rehearsal reads a base model's own training texts through that record, and only while
each file is still there, the same size and the same hash.
"""

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

CHUNK = 1 << 20
RECORD_KEYS = ("name", "path", "bytes", "sha256")


def file_record(path: Path | str) -> dict[str, str]:
    """A data file as a run records it: its name, absolute path, size and SHA-256 (read in chunks, never whole).
    Values are strings, as spaCy's meta schema types "sources"."""
    path = Path(path).resolve()
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"name": path.name, "path": str(path), "bytes": str(size), "sha256": digest.hexdigest()}


def file_records(paths: Iterable[Path | str]) -> list[dict[str, str]]:
    return [file_record(path) for path in paths]


def is_file_record(source: object) -> bool:
    """Whether a meta.json "sources" entry is a record of a data file (not a name and URL of a published corpus)."""
    return isinstance(source, Mapping) and all(isinstance(source.get(key), str) for key in RECORD_KEYS)


def changed(record: Mapping[str, str]) -> str | None:
    """Why a recorded file can no longer be read as the data it was (gone, another size, other bytes); None if it
    is the same file."""
    path = Path(record["path"])
    if not path.is_file():
        return f"{path} is no longer there"
    size = path.stat().st_size
    if str(size) != record["bytes"]:
        return f"{path} has changed ({size:,} bytes, {int(record['bytes']):,} when recorded)"
    if file_record(path)["sha256"] != record["sha256"]:
        return f"{path} has changed (same size, other bytes: its SHA-256 differs)"
    return None
