"""What differs from one Python to the next, as the lab reports and uses it: the default start
method, the subinterpreter API (standard library or backport), and free-threaded builds (none
can be had here: their paths are tested by standing in for ``sys._is_gil_enabled``)."""

from __future__ import annotations

import json
import multiprocessing
import sys
import types

import pytest

from mpi_lab import backends, cli


def run_info(capsys: pytest.CaptureFixture[str]) -> dict:
    assert cli.main(["info", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_default_start_method_is_this_pythons_own():
    own = multiprocessing.get_all_start_methods()[0]
    assert backends.default_start_method() == own
    if sys.version_info >= (3, 14) and sys.platform == "linux":
        assert own == "forkserver"


def test_a_start_method_the_program_set_is_the_default(monkeypatch):
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "spawn")
    assert backends.default_start_method() == "spawn"


def test_fork_is_never_the_default_once_mpi_runs(monkeypatch):
    monkeypatch.setattr(multiprocessing, "get_all_start_methods",
                        lambda: ["fork", "spawn", "forkserver"])
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: None)
    assert backends.default_start_method() == "fork"
    running = types.SimpleNamespace(Is_initialized=lambda: True, Is_finalized=lambda: False)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", running)
    assert backends.default_start_method() == "forkserver"
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["fork", "spawn"])
    assert backends.default_start_method() == "spawn"


def test_info_names_the_default_start_method_and_the_subinterpreter_api(capsys):
    details = run_info(capsys)
    own = multiprocessing.get_all_start_methods()[0]
    assert details["start_method"].startswith(own)
    assert details["start_methods"][0] == own
    api = details["subinterpreters"]
    if sys.version_info >= (3, 14):
        assert "standard library" in api and "backport" not in api
    elif sys.version_info >= (3, 12):
        assert "backport" in api or api.startswith("none")
    else:
        assert api.startswith("none")


@pytest.mark.skipif(sys.version_info < (3, 14), reason="the standard library's API is 3.14+")
def test_on_314_the_backport_is_not_installed_and_not_used():
    from importlib import metadata

    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("interpreters-pep-734")
    from mpi_lab.backends import _subinterpreters

    assert _subinterpreters.pool_executor_class().__module__.startswith("concurrent.futures")
    assert _subinterpreters.interpreters_module().__name__ == "concurrent.interpreters"


@pytest.mark.parametrize("gil", [True, False])
def test_free_threading_is_detected_and_auto_uses_threads(monkeypatch, capsys, gil: bool):
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: gil, raising=False)
    assert backends.gil_enabled() is gil
    choice = backends.resolve("auto", numpy=False, workers=2)
    if gil:  # pure Python under the GIL: threads would take turns
        assert not backends.flags(choice.name).in_process and "free-threaded" not in choice.why
    else:
        assert choice.name == "thread-pool" and "free-threaded" in choice.why
    assert run_info(capsys)["gil"] is gil


def test_without_the_check_the_gil_is_on(monkeypatch):
    """Pythons before 3.13 have no ``sys._is_gil_enabled``: they always hold the GIL."""
    monkeypatch.delattr(sys, "_is_gil_enabled", raising=False)
    assert backends.gil_enabled() is True
