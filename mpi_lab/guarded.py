"""The wrapper every worker runs kernels in, failures turned into text.

Imported inside each worker process and subinterpreter, so it imports next to nothing: a fresh
subinterpreter pays for every module again (``dataclasses`` alone cost 15 ms of a worker's
40 ms start here).
"""

from __future__ import annotations

from mpi_lab.errors import KernelFailed

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (8 ms per subinterpreter)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Guarded:
    """A kernel whose failures come back as ``KernelFailed``: text naming the item and cause.

    Exceptions raised in other processes or interpreters may not pickle, and their tracebacks do
    not travel; this wrapper turns both into plain text where the failure happened.
    """

    __slots__ = ("kernel",)

    def __init__(self, kernel: Callable[[Any], Any]) -> None:
        self.kernel = kernel

    def __reduce__(self) -> tuple[type[Guarded], tuple[Callable[[Any], Any]]]:
        return Guarded, (self.kernel,)

    def __repr__(self) -> str:
        return f"Guarded({self.kernel!r})"

    def __call__(self, item: Any) -> Any:
        try:
            return self.kernel(item)
        except Exception as exc:
            import traceback  # only on failure: it costs 8 ms per subinterpreter to load

            raise KernelFailed(
                str(item), f"{type(exc).__name__}: {exc}", traceback.format_exc()
            ) from None
