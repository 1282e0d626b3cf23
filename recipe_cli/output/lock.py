"""One process owns a folder at a time: an OS lock (flock) on FOLDER/.lock, held while the work runs.

The kernel releases the lock when its process ends, however it ends (SIGKILL included): a folder is never left
locked by a run that is gone. The lock file holds the owner's process id, for the message a second process gives;
its owner removes it before letting go (one that was killed leaves it behind, unlocked, and the next owner takes it).
"""

import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..errors import Errors, RecipeError

LOCK_FILE = ".lock"
# Tries to take a lock whose file a releasing owner removed meanwhile (see locked()).
_TRIES = 5
# A folder that cannot be written (or created): a read-only file system, no permission, a full disk.
_REFUSED = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT)
# Lock files this process holds (device, inode): train() started again by --resume takes its folder's lock again.
_held: set[tuple[int, int]] = set()


@contextmanager
def locked(folder: Path, busy: Callable[[str], str], *, create: bool = False) -> Iterator[None]:
    """Own folder while the block runs; refuse with RecipeError(busy(pid)) when another process owns it.

    folder (Path): the folder to own; its LOCK_FILE holds the lock and the owner's pid.
    busy (Callable[[str], str]): the error message, given the owner's pid ("?" where unknown).
    create (bool): create folder (and its parents) first; a folder this call created is removed again when the
        block raises and leaves nothing in it.
    """
    folder = Path(folder)
    created = create and not folder.exists()
    for _ in range(_TRIES):
        try:
            if create:
                folder.mkdir(parents=True, exist_ok=True)
            lock = (folder / LOCK_FILE).open("a+", encoding="utf8")
        except OSError as e:
            if e.errno not in _REFUSED:
                raise
            raise RecipeError(Errors.E044.format(path=folder, reason=e.strerror)) from None
        key = _key(lock)
        if key in _held:  # this process owns the folder already
            lock.close()
            yield
            return
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            pid = lock.read().strip() or "?"
            lock.close()
            raise RecipeError(busy(pid)) from None
        if _is_current(folder / LOCK_FILE, key):
            break
        lock.close()  # its owner removed the file (and perhaps the folder) before releasing it: take the new one
    else:
        raise RecipeError(busy("?"))
    _held.add(key)
    try:
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield
    finally:
        _held.discard(key)
        # Removed while still held: a process that opened this file meanwhile sees it gone once it has the lock.
        (folder / LOCK_FILE).unlink(missing_ok=True)
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        lock.close()


def _key(lock: IO[str]) -> tuple[int, int]:
    stat = os.fstat(lock.fileno())
    return (stat.st_dev, stat.st_ino)


def _is_current(path: Path, key: tuple[int, int]) -> bool:
    """Whether path is still the file locked (its owner may have removed it before releasing its lock)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return False
    return (stat.st_dev, stat.st_ino) == key
