"""The registries say what each backend and schedule is, and every message and ``auto`` read
them: here, what the flags claim is checked against where kernels really run."""

from __future__ import annotations

import os
import sys

import pytest
import wl_where

import mpi_lab
from mpi_lab import backends, options
from mpi_lab.core.errors import ConfigError
from mpi_lab.mpi import schedules


@pytest.mark.parametrize("name", backends.NAMES)
def test_flags_say_where_kernels_run(name: str):
    if not backends.availability(name).available:
        pytest.skip(backends.availability(name).reason)
    flags = backends.flags(name)
    ran = mpi_lab.run(wl_where, backend=name, workers=2, mpi=False).answer
    assert [item for item, _, _ in ran] == list(range(6))
    same_process = all(pid == os.getpid() for _, pid, _ in ran)
    same_interpreter = same_process and all(mods == id(sys.modules) for _, _, mods in ran)
    assert flags.in_process == same_interpreter
    assert flags.starts_processes == (not same_process)
    assert flags.subinterpreters == (same_process and not same_interpreter)
    assert flags.needs_pickling == (not flags.in_process)


def test_start_method_message_names_the_backends_that_start_processes():
    with pytest.raises(ConfigError) as info:
        backends.resolve("threads", numpy=False, workers=2, start_method="spawn")
    for name in backends.names_where(starts_processes=True):
        assert name in str(info.value)
    assert "thread-pool" not in str(info.value)


@pytest.mark.parametrize("name", schedules.NAMES)
def test_every_registered_schedule_loads_under_its_name(name: str):
    schedule = schedules.get(name)
    assert schedule.name == name
    assert schedule.thread_level in ("funneled", "multiple")
    assert schedules.summary(name)


def test_an_unknown_schedule_is_refused_where_it_enters_with_the_registered_names():
    with pytest.raises(ConfigError) as info:
        options.RunOptions(schedule="round-robin")
    assert all(name in str(info.value) for name in schedules.NAMES)


@pytest.mark.parametrize("name", [n for n in schedules.NAMES if hasattr(schedules.get(n), "split")])
@pytest.mark.parametrize(("count", "ranks"), [(0, 1), (7, 3), (10, 4), (3, 5)])
def test_static_schedules_give_every_index_once(name: str, count: int, ranks: int):
    shares = schedules.split(count, ranks, name)
    assert len(shares) == ranks
    assert sorted(index for share in shares for index in share) == list(range(count))
