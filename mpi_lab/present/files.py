"""Files written all or nothing: a run's output (the workload's ``save`` hook writes it) and
bench's results."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from mpi_lab.core.errors import ConfigError, LabError
from mpi_lab.core.machine import gigabytes


def check_output_path(path: str, nbytes: int | None = None, what: str = "output") -> Path:
    """Fail before any computation if ``path`` cannot be written as asked: its folder must
    take a new file (one is made there and removed), and ``nbytes`` if given must fit.
    ``what``: the file's name in the message (the option that gave it)."""
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise ConfigError(f"{what} {path!r}: folder {str(folder)!r} does not exist")
    try:  # os.access would say yes to root on a read-only or special file system
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise ConfigError(f"{what} {path!r}: cannot write in {str(folder)!r}: {exc.strerror}") \
            from None
    os.close(fd)
    os.unlink(probe)
    if nbytes is not None:
        free = shutil.disk_usage(folder).free
        if nbytes > free:
            raise ConfigError(f"{what} {path!r} needs {gigabytes(nbytes)} and {str(folder)!r}"
                              f" has {gigabytes(free)} free")
    return target


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary file beside ``target`` that replaces it only if writing succeeds."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        # mkstemp makes the file private (0600); give it the permissions a new file would get.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def save(write: Callable[[Path], object], path: str | Path) -> Path:
    """Write ``path`` by ``write(temporary)``, all or nothing: the temporary file is beside
    ``path``, with its suffix. A failure to write (a full disk, the folder gone) is a
    ``LabError`` naming the file; whatever else ``write`` raises goes through."""
    target = Path(path)
    try:
        with atomic_path(target) as temp:
            write(temp)
    except OSError as exc:
        raise LabError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from exc
    return target
