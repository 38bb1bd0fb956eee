"""``Param``: one parameter a workload declares (its ``parameters`` hook, see ``contract``).

Its own module, and a named tuple: the built-in kernel modules declare theirs, and every
subinterpreter imports them again (no ``typing``, no ``dataclasses``, no ``contract`` here).
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, NamedTuple

    class _ParamFields(NamedTuple):
        name: str
        default: Any
        help: str = ""
        choices: tuple[str, ...] | None = None
        type: type | None = None
else:
    _ParamFields = namedtuple("_ParamFields", ["name", "default", "help", "choices", "type"],
                              defaults=("", None, None))


class Param(_ParamFields):
    """A parameter of ``plan``: its ``name``, its ``default``, one line of ``help``, and the
    ``choices`` (strings) it takes, or its ``type`` (None: the default's)."""

    __slots__ = ()

    @property
    def kind(self) -> type:
        """The type its values have: ``type``, else the default's."""
        return self.type or type(self.default)


def defaults(parameters: Iterable[Param]) -> dict[str, Any]:
    """Each declared parameter's default, by name."""
    return {param.name: param.default for param in parameters}
