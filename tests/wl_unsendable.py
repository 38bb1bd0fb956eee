"""A workload whose results (or items) cannot cross a process, interpreter or rank boundary:
from item ``at`` on (``only``: at item ``at`` alone), the kernel returns a lock or a lambda
(``what``), or the plan holds one in its item ``at`` (``where="item"``). In-process workers run
it; every other backend must name the item, its index and the type that failed, in one line."""

from __future__ import annotations

import threading
from typing import Any


def _unsendable(what: str, k: int) -> Any:
    return threading.Lock() if what == "lock" else (lambda: k)


def plan(n: int = 6, what: str = "lock", where: str = "result", at: int = 3,
         only: bool = False) -> list[Any]:
    if where not in ("result", "item"):
        raise ValueError(f"where must be 'result' or 'item' (got {where!r})")
    items: list[Any] = [(k, what, where, at if not only else (at, at)) for k in range(n)]
    if where == "item":
        items[at] = (at, _unsendable(what, at), where, at)
    return items


def kernel(item: tuple[int, Any, str, Any]) -> Any:
    k, what, where, at = item
    first, last = at if isinstance(at, tuple) else (at, k)
    if where == "result" and first <= k <= last:
        return _unsendable(what, k)
    return k


def combine(results: list[Any]) -> int:
    return len(results)
