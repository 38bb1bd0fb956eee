"""What failed and where, as a record that travels: from a worker to its pool's owner, from a
rank to every other rank.

Plain fields only, so that it pickles across processes, subinterpreters and ranks whatever the
original exception was; the exceptions that carry it are in ``mpi_lab.core.errors``.
"""

from __future__ import annotations

from collections import namedtuple

_FIELDS = ("cause", "kinds", "index", "item", "stage", "traceback", "exit_code", "rank", "host",
           "module")


class Failure(namedtuple("Failure", _FIELDS,
                         defaults=((), None, "", "kernel", "", 1, None, "", ""))):
    """What failed and where: the item (its place in the plan and a short repr), the cause (the
    exception's type and message), the worker's traceback, and under MPI the rank and host.

    ``stage`` says what failed: ``kernel`` (it raised, or its result does not fit its layout),
    ``result`` (its result could not be sent back) or ``item`` (the item or kernel could not be
    sent to the worker). ``kinds`` are the exception's class and its bases, most derived first,
    by name; ``module``, the module an ``ImportError`` could not import. A named tuple, not a dataclass: every worker and subinterpreter imports this.
    """

    __slots__ = ()

    def is_a(self, kind: str) -> bool:
        """The exception was a ``kind`` (a class name, e.g. ``ImportError``) or a subclass."""
        return kind in self.kinds

    def at(self, rank: int, host: str) -> Failure:
        """This failure, said to have happened on ``rank`` of ``host``."""
        return self._replace(rank=rank, host=host)

    @property
    def exception(self) -> str:
        """The exception's class name (``""`` if the record was made of a message alone)."""
        return self.kinds[0] if self.kinds else ""

    @property
    def message(self) -> str:
        """The exception's message, without its class name."""
        prefix = f"{self.exception}: "
        return self.cause.removeprefix(prefix)

    @property
    def where(self) -> str:
        return "" if self.rank is None else f"rank {self.rank} on host {self.host}"

    @property
    def what(self) -> str:
        """The item and what happened to it, without the rank."""
        if self.index is None:
            return self.cause
        named = f"item {self.index} ({self.item})"
        if self.stage == "result":
            return f"the result of {named} could not be sent back from its worker: {self.cause}"
        if self.stage == "item":
            return f"{named} could not be sent to a worker: {self.cause}"
        return f"worker failed on {named}: {self.cause}"

    def line(self) -> str:
        """The one line that reports it."""
        return f"{self.where}: {self.what}" if self.where else self.what


def failure_of(exc: BaseException, **fields: object) -> Failure:
    """A ``Failure`` for ``exc``, its type named with its bases."""
    kinds = tuple(cls.__name__ for cls in type(exc).__mro__ if cls is not object)
    return Failure(f"{type(exc).__name__}: {exc}", kinds, module=import_name(exc),
                   **fields)  # type: ignore[arg-type]


def import_name(exc: BaseException) -> str:
    """The module an ``ImportError`` could not import: the one it names (through the errors it
    was raised from), else the module whose code raised it (NumPy raises its own, naming
    none, from its ``__init__``)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, ImportError) and seen.name:
            return seen.name
        seen = seen.__cause__ or seen.__context__
    raised_in = ""
    frames = exc.__traceback__
    while frames is not None:
        module = frames.tb_frame.f_globals.get("__name__", "")
        if module and not module.startswith(("importlib", "_frozen_importlib")):
            raised_in = module
        frames = frames.tb_next
    return raised_in
