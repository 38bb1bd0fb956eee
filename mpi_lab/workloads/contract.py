"""The workload contract: what a user writes, and the one shape the lab runs it in.

The minimum is a module (or an object in a module) with three callables::

    def plan(**params) -> Sequence[Item]          # ordered, picklable work items
    def kernel(item) -> Result                    # a pure function of one item
    def combine(results: list) -> Answer          # the results, in plan order

``combine``, ``show``, ``needs_numpy``, ``warm_up``, ``save`` and ``check_output`` may take any of
``plan``'s parameters by name (``def combine(results, n=100)``): they get the run's values,
defaults filled in.

Optional hooks say more (module attributes, or attributes of the object):

    needs_numpy        True, or a function of the params: the kernels import NumPy, which
                       cannot load in a subinterpreter (interpreter backends are refused)
    result_layout      item -> (typecode, count): the kernel returns ``count`` numbers of the
                       ``array`` typecode (a NumPy array or ``array`` of that type, or one
                       number). Results then travel as typed buffers (in shared memory, by
                       ``Gatherv`` between ranks), and ``combine`` gets a ``Results`` list of
                       typed memoryviews with ``.flat``, every result back to back in plan
                       order. If ``kernel`` also takes ``out`` (``def kernel(item, out=None)``),
                       in-process workers (threads) pass it the result's slot, a typed
                       memoryview, to write into: no result is copied. A third element,
                       ``(typecode, count, wire)``, names a narrower typecode the values fit:
                       results that go to another rank are made and sent in it (``combine``
                       then gets views of both types)
    describe           answer -> dict: the answer's fields in JSON (default: the answer)
    show               answer -> str: the answer in one line of text (default: repr)
    default_schedule   a schedule's name (``mpi_lab.mpi.schedules``): how ranks share the plan
    parameters         ``plan``'s parameters, declared once: a sequence of ``Param(name,
                       default, help, choices=None, type=None)`` (``Param`` is in this module).
                       ``plan`` takes each, with the same default if it has one (checked as
                       the workload loads); a ``plan(**params)`` gets its defaults from them.
                       The built-ins' command-line options are made from them
    quick_params       a dict: the parameters of a small run, over the declared defaults
                       (``bench --quick``; bench's full matrix runs the defaults)
    save               (answer, path) -> None: write the answer to the ``pathlib.Path``
                       ``path`` (``--output FILE``, ``mpi_lab.run(output=...)``): a temporary
                       file beside FILE, with its suffix, which replaces FILE only if ``save``
                       returns; rank 0 saves, after the run
    warm_up            called once in each process that runs the plan (each rank), before
                       its clock starts, with plan's parameters by name: compile or load what
                       the kernels need (a numba kernel: from its cache). Its seconds are
                       reported as start-up (``warm_up_seconds``), not in the run's time;
                       returning False says it had nothing to do (nothing is reported)
    check_output       path -> bytes or None: asked on rank 0 before the plan: raise
                       ``ValueError`` if ``save`` cannot write ``path`` (its suffix, a missing
                       library), else return the bytes the file will need (None: unknown).
                       The lab checks too that FILE's folder exists, takes a new file and has
                       room

For example, a workload whose size is declared once and whose answer can be saved::

    from mpi_lab.workloads.contract import Param

    parameters = (Param("limit", 1_000_000, "Count the primes below this."),)
    quick_params = {"limit": 100_000}

    def plan(limit): ...                      # its default: the declared one
    def save(answer, path, limit):            # path: a pathlib.Path
        path.write_text(f"{answer} primes below {limit}\\n")

``plan`` checks its parameters (a ``TypeError`` or ``ValueError`` is a bad input, exit 2) and
may check more before anything is computed, such as the memory the answer will need.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from mpi_lab.core.errors import ConfigError, LabError
from mpi_lab.workloads import BUILTIN
from mpi_lab.workloads.param import Param, defaults

REQUIRED = ("plan", "kernel", "combine")
Layout = tuple[str, int] | tuple[str, int, str]  # (typecode, count[, wire typecode])


@dataclass(frozen=True)
class Workload:
    """A workload as the lab runs it: the three callables, and what the hooks said."""

    name: str  # as the user named it: "pi", "examples.primes", "mymod:thing"
    plan: Callable[..., Sequence[Any]]
    kernel: Callable[[Any], Any]
    combine: Callable[[list[Any]], Any]
    needs_numpy: bool | Callable[..., bool] = False
    result_layout: Callable[[Any], Layout] | None = None
    describe: Callable[[Any], Any] | None = None
    show: Callable[[Any], str] | None = None
    default_schedule: str = "block"  # a name, checked where a run takes it
    parameters: tuple[Param, ...] = ()
    quick_params: Mapping[str, Any] = field(default_factory=dict)
    save: Callable[..., Any] | None = None
    check_output: Callable[..., int | None] | None = None
    warm_up: Callable[..., Any] | None = None

    @property
    def kernel_takes_out(self) -> bool:
        """``kernel(item, out=...)`` is allowed: it can write its result in place."""
        try:
            return "out" in inspect.signature(self.kernel).parameters
        except (TypeError, ValueError):
            return False

    def uses_numpy(self, params: dict[str, Any]) -> bool:
        """Whether kernels for these params import NumPy."""
        if callable(self.needs_numpy):
            return bool(call(self.needs_numpy, (), params))
        return bool(self.needs_numpy)

    def params(self, given: dict[str, Any]) -> dict[str, Any]:
        """The run's parameters: ``plan``'s defaults, updated with those ``given``; a value
        outside a declared parameter's ``choices`` is a bad input (exit 2)."""
        for param in self.parameters:
            value = given.get(param.name, param.default)
            if param.choices and value not in param.choices:
                raise ConfigError(f"{self.name}: {param.name}: {value!r}; choose from"
                                  f" {', '.join(map(str, param.choices))}")
        return {**self.defaults(), **given}

    def defaults(self) -> dict[str, Any]:
        """The parameters that have defaults, with them: those declared, and ``plan``'s."""
        return {**defaults(self.parameters), **_plan_defaults(self.plan)}

    def make_plan(self, params: dict[str, Any]) -> Sequence[Any]:
        """``plan(**params)``; a plan that rejects its parameters is a bad input (exit 2), named
        with the parameters it was given; one that fails otherwise is the workload's error
        (exit 1), named in one line."""
        self._check_names(params)
        try:
            items = self.plan(**params)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.name}: {exc}; {self._given(params)}") from None
        except Exception as exc:
            raise LabError(f"{self.name}: plan() failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(items, Sequence):
            raise ConfigError(f"{self.name}: plan() returned {type(items).__name__}, not a"
                              " sequence (a list, a tuple, or anything with len and indexing)")
        return items

    def _check_names(self, params: dict[str, Any]) -> None:
        """Every parameter given is one ``plan`` takes (unless it takes ``**``)."""
        try:
            accepted = inspect.signature(self.plan).parameters
        except (TypeError, ValueError):
            return
        if any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
            return
        names = [name for name, p in accepted.items()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        for key in params:
            if key not in names:
                import difflib

                close = difflib.get_close_matches(key, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                takes = ", ".join(names) or "none"
                raise ConfigError(f"{self.name}: plan() has no parameter {key!r}{hint};"
                                  f" its parameters: {takes}")

    def _given(self, params: dict[str, Any]) -> str:
        """The parameters ``plan`` was given, naming those of another type than its default:
        ``limit='abc': a str where plan() defaults to 1000000``."""
        defaults = self.defaults()
        odd = [f"{key}={value!r}: a {type(value).__name__} where plan() defaults to"
               f" {defaults[key]!r}"
               for key, value in params.items()
               if key in defaults and defaults[key] is not None
               and not isinstance(value, type(defaults[key]))
               and not (isinstance(value, int) and isinstance(defaults[key], float))]
        if odd:
            return "; ".join(odd)
        shown = ", ".join(f"{key}={value!r}" for key, value in params.items())
        return f"plan was given {shown or 'no parameters'}"

    def answer_json(self, answer: Any) -> Any:
        """The answer as JSON can hold it: ``describe(answer)``, the answer, or its repr."""
        value = self.describe(answer) if self.describe is not None else answer
        if hasattr(value, "_asdict"):  # a named tuple: its fields
            value = value._asdict()
        return jsonable(value)

    def answer_text(self, answer: Any, params: dict[str, Any]) -> str:
        """The answer in a line of text: ``show``'s, or the answer's repr."""
        if self.show is not None:
            return str(call(self.show, (answer,), params))
        return f"{self.name}: {answer!r}"

    def combined(self, results: list[Any], params: dict[str, Any]) -> Any:
        """``combine(results)``, with the parameters it names."""
        return call(self.combine, (results,), params)

    def output_bytes(self, path: str, params: dict[str, Any]) -> int | None:
        """The bytes a file of the answer at ``path`` will need (None: unknown), as
        ``check_output`` says; a ``ConfigError`` if the answer cannot be saved there (no
        ``save`` hook, or ``check_output`` refuses the path)."""
        from pathlib import Path  # only a run that saves needs it

        self._save_hook()
        if self.check_output is None:
            return None
        try:
            return call(self.check_output, (Path(path),), params)
        except ValueError as exc:
            raise ConfigError(f"output {path!r}: {exc}") from None
        except Exception as exc:
            raise LabError(f"{self.name}: check_output() failed: {type(exc).__name__}: {exc}") \
                from exc

    def warmed(self, params: dict[str, Any]) -> float:
        """Run the ``warm_up`` hook, if any: the seconds it took."""
        if self.warm_up is None:
            return 0.0
        import time

        started = time.perf_counter()
        if call(self.warm_up, (), params) is False:  # nothing to do for these parameters
            return 0.0
        return time.perf_counter() - started

    def saved(self, answer: Any, path: Any, params: dict[str, Any]) -> None:
        """``save(answer, path)``, with the parameters it names."""
        call(self._save_hook(), (answer, path), params)

    def _save_hook(self) -> Callable[..., Any]:
        if self.save is None:
            raise ConfigError(f"{self.name} cannot save its answer to a file: it has no save"
                              " hook")
        return self.save


def _plan_defaults(plan: Callable[..., Any]) -> dict[str, Any]:
    """``plan``'s parameters that have defaults, with them."""
    try:
        signature = inspect.signature(plan)
    except (TypeError, ValueError):
        return {}
    return {name: p.default for name, p in signature.parameters.items()
            if p.default is not inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def jsonable(value: Any) -> Any:
    """``value`` if JSON can hold it, else its ``repr``."""
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def call(fn: Callable[..., Any], args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """``fn(*args, **those of params that fn names)`` (all of them if it takes ``**``)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return fn(*args)
    accepted = signature.parameters
    if any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        return fn(*args, **params)
    named = {key: value for key, value in params.items()
             if key in accepted and accepted[key].kind in (
                 inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return fn(*args, **named)


def load(target: Any) -> Workload:
    """The workload ``target`` names: a spec (``module`` or ``module:name``, or a built-in's
    name), a module, or an object with ``plan``, ``kernel`` and ``combine``."""
    if isinstance(target, Workload):
        return target
    if isinstance(target, str):
        name, source = target, _resolve(target)
    else:
        source = target
        name = getattr(target, "__name__", None) or type(target).__qualname__
    missing = [attr for attr in REQUIRED if not callable(getattr(source, attr, None))]
    if missing:
        raise ConfigError(
            f"{name}: a workload needs callables {', '.join(REQUIRED)};"
            f" it has no {', '.join(missing)}"
        )
    schedule = getattr(source, "default_schedule", "block")
    parameters = tuple(getattr(source, "parameters", ()))
    _check_declared(name, source.plan, parameters)
    return Workload(
        name=name,
        plan=source.plan,
        kernel=source.kernel,
        combine=source.combine,
        needs_numpy=getattr(source, "needs_numpy", False),
        result_layout=getattr(source, "result_layout", None),
        describe=getattr(source, "describe", None),
        show=getattr(source, "show", None),
        default_schedule=schedule,
        parameters=parameters,
        quick_params=dict(getattr(source, "quick_params", None) or {}),
        save=getattr(source, "save", None),
        check_output=getattr(source, "check_output", None),
        warm_up=getattr(source, "warm_up", None),
    )


def _check_declared(name: str, plan: Callable[..., Any], parameters: tuple[Any, ...]) -> None:
    """Each declared parameter is a ``Param`` that ``plan`` takes, with the same default if
    ``plan`` gives one: the command line and ``plan`` never disagree."""
    try:
        accepted = inspect.signature(plan).parameters
    except (TypeError, ValueError):
        return
    open_ended = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    own = _plan_defaults(plan)
    for param in parameters:
        if not isinstance(param, Param):
            raise ConfigError(f"{name}: parameters holds {param!r}, not a Param")
        if param.name not in accepted and not open_ended:
            raise ConfigError(f"{name}: it declares parameter {param.name!r}, which plan()"
                              " does not take")
        if param.name in own and own[param.name] != param.default:
            raise ConfigError(f"{name}: parameter {param.name!r} is declared with default"
                              f" {param.default!r}, but plan() defaults to {own[param.name]!r}")


def _resolve(spec: str) -> Any:
    """The module, or the object in it, that ``spec`` names: ``module``, ``module:name``, or a
    file, ``path/to/file.py`` or ``path/to/file.py:name`` (its folder goes on ``sys.path``, so
    that workers and ranks import it by its name too)."""
    target, attribute = _split(BUILTIN.get(spec, spec))
    if not target:
        raise ConfigError(f"workload {spec!r}: expected MODULE, MODULE:NAME or FILE.py[:NAME]")
    module_name = _module_from_file(spec, target) if _is_file(target) else target
    try:
        module: ModuleType = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ConfigError(
                f"workload {spec!r}: no module named {exc.name!r} (it must be importable from"
                " the current folder or PYTHONPATH, or be given as a file: path/to/file.py)"
            ) from None
        raise ConfigError(f"workload {spec!r}: importing it failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed as it loaded
        raise ConfigError(f"workload {spec!r}: importing it failed: {type(exc).__name__}:"
                          f" {exc}") from None
    if not attribute:
        return module
    source: Any = module
    for part in attribute.split("."):
        if not hasattr(source, part):
            raise ConfigError(f"workload {spec!r}: module {module_name!r} has no {attribute!r}")
        source = getattr(source, part)
    return source


def _split(spec: str) -> tuple[str, str]:
    """(module or file, attribute): ``a.b:c`` -> ``a.b``, ``c``; ``dir/f.py:c`` -> ``dir/f.py``,
    ``c``; a colon that is part of a path stays in it."""
    target, colon, attribute = spec.rpartition(":")
    if colon and attribute and all(part.isidentifier() for part in attribute.split(".")):
        return target, attribute
    return spec, ""


def _is_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or target.startswith(".")


def _module_from_file(spec: str, target: str) -> str:
    """The module name a workload file imports as, its folder put first on ``sys.path``."""
    path = os.path.abspath(target)
    name = os.path.basename(path).removesuffix(".py")
    if not path.endswith(".py") or not os.path.isfile(path):
        raise ConfigError(f"workload {spec!r}: no such file {target!r} (a workload file is a"
                          " .py file)")
    if not name.isidentifier():
        raise ConfigError(f"workload {spec!r}: {name!r} is not a Python name; rename the file"
                          " (workers import it by its name)")
    folder = os.path.dirname(path)
    loaded = sys.modules.get(name)
    if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") != path:
        raise ConfigError(f"workload {spec!r}: a module named {name!r} is imported already"
                          f" (from {getattr(loaded, '__file__', None) or 'built-in'}); rename"
                          " the file")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return name


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings as keyword arguments: Python literals where they parse, else
    strings (``n=10`` is 10, ``name=ab`` is ``"ab"``, ``xs=[1,2]`` a list)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        key = key.strip()
        if not equals or not key.isidentifier():
            raise ConfigError(f"--param {pair!r}: expected KEY=VALUE, KEY a Python name")
        try:
            params[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            params[key] = text
    return params
