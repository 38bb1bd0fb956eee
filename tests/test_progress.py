"""The live progress line: what it says, when it is written, and what a user sees, on a
terminal and through a pipe, locally and under ``mpiexec -n 2`` and ``-n 4``.

The runs use ``wl_slow``, whose items sleep: its pace holds on a loaded machine, so "lines
arrive while the run goes on" is a claim about the lab, not about the machine's speed.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import signal
import sys

import pytest
import terminal
from wl_cases import TESTS, clean_env

from mpi_lab.cluster import launcher
from mpi_lab.mpi import coordinator
from mpi_lab.progress import live_line
from mpi_lab.progress.live_line import ERASE, LiveLine, Rate, describe, duration
from mpi_lab.progress.meter import Status

pytestmark = pytest.mark.timeout(120)

LINE = re.compile(r"(?P<done>[\d,]+) of (?P<total>[\d,]+) items \((?P<percent>\d+)%\)")


def counts(text: str) -> tuple[int, int] | None:
    """Items done and total in a progress line, or None if it is not one."""
    found = LINE.search(text)
    if found is None:
        return None
    return int(found["done"].replace(",", "")), int(found["total"].replace(",", ""))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fake_line(terminal_: bool, source=None) -> tuple[LiveLine, io.StringIO, Clock]:
    stream, clock = io.StringIO(), Clock()
    state = {"done": 0}
    line = LiveLine("job", source or (lambda: Status(state["done"], 100)), stream,
                    terminal=terminal_, clock=clock)
    return line, stream, clock


# -- the line itself ---------------------------------------------------------------------

def test_describe_says_done_total_percent_rate_time_left_and_ranks():
    text = describe("pi", Status(25, 100, 3, 4), 5.0)
    assert text == "pi: 25 of 100 items (25%), 5 items/s, 15 s left, 3 of 4 ranks working"
    assert describe("pi", Status(0, 0), None) == "pi: 0 items (planning)"
    bar = describe("pi", Status(50, 100), None, bar=True)
    assert bar.startswith("pi [##########----------] 50 of 100 items (50%)")


def test_pace_reads_without_exponents_from_fast_to_slow():
    assert [live_line.pace(r) for r in (12_345.6, 999.9, 12.34, 0.5, 0.001)] == [
        "12,346 items/s", "1,000 items/s", "12.3 items/s", "30 items/min", "3.6 items/h"]


def test_duration_reads_as_a_person_would_say_it():
    assert [duration(s) for s in (0.44, 12, 245, 7380)] == [
        "0.4 s", "12 s", "4 min 05 s", "2 h 03 min"]


def test_rate_follows_the_recent_pace():
    rate = Rate()
    assert rate.per_second() is None
    for second in range(60):  # 1 item/s for a minute, then 10 items/s
        rate.add(second, second)
    for second in range(60, 80):
        rate.add(second, 60 + 10 * (second - 60))
    assert rate.per_second() == pytest.approx(10, rel=0.01)


def test_without_terminal_a_line_each_second_for_a_minute_then_fewer():
    line, stream, clock = fake_line(terminal_=False)
    stamps = []
    for _ in range(int(3600 / live_line.TERMINAL_EVERY)):  # an hour of ticks
        clock.now += live_line.TERMINAL_EVERY
        before = line.lines
        line.tick()
        if line.lines > before:
            stamps.append(clock.now - 1000)
    first_minute = [s for s in stamps if s <= 60.01]
    assert 55 <= len(first_minute) <= 61
    gaps_after = [b - a for a, b in itertools.pairwise(stamps) if a > 61]
    assert min(gaps_after) >= 9.9  # then at least 10 s apart
    assert len(stamps) < 200  # an hour-long job: a short log
    text = stream.getvalue()
    assert "\r" not in text and text.count("\n") == len(stamps)


def test_terminal_line_is_redrawn_in_place_and_ended_once():
    line, stream, clock = fake_line(terminal_=True)
    for _ in range(10):
        clock.now += live_line.TERMINAL_EVERY
        line.tick()
    drawn = stream.getvalue()
    assert drawn.count(ERASE) == 10 and "\n" not in drawn
    line.finish()
    assert stream.getvalue().endswith("\n") and stream.getvalue().count("\n") == 1


def test_an_abandoned_line_is_cleared_for_the_message_that_follows():
    line, stream, clock = fake_line(terminal_=True)
    clock.now += 1
    line.tick()
    line.abandon()
    assert stream.getvalue().endswith(ERASE) and "\n" not in stream.getvalue()


def test_finish_reaches_the_final_count():
    state = {"done": 0}
    line, stream, clock = fake_line(False, lambda: Status(state["done"], 7))
    state["done"] = 7
    clock.now += 0.5
    line.finish()
    assert counts(stream.getvalue()) == (7, 7)
    assert "done in 0.5 s" in stream.getvalue()


def test_shown_draws_nothing_when_off_and_clears_on_an_error():
    stream = io.StringIO()
    with live_line.shown("job", None, stream) as line:
        assert line is None
    assert stream.getvalue() == ""
    with live_line.shown("job", lambda: Status(2, 2), stream):
        pass
    assert counts(stream.getvalue()) == (2, 2)
    stream = io.StringIO()
    with pytest.raises(KeyError), live_line.shown("job", lambda: Status(1, 2), stream):
        raise KeyError
    assert stream.getvalue() == ""  # no last line for a run that failed


def test_default_is_on_only_for_a_terminal():
    assert live_line.wanted(None, io.StringIO()) is False
    assert live_line.wanted(True, io.StringIO()) is True

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert live_line.wanted(None, Tty()) is True
    assert live_line.wanted(False, Tty()) is False


class FakeComm:
    def __init__(self, wishes):
        self.wishes = wishes

    def allgather(self, mine):
        return [(*wish, f"host{rank}") for rank, wish in enumerate(self.wishes)]


def agreed(wishes: list[tuple[int, bool, bool]], *mine) -> tuple[int, bool]:
    settled = coordinator.agree(FakeComm(wishes), *mine)
    assert settled.hosts == [f"host{rank}" for rank in range(len(wishes))]
    return settled.workers, settled.shown


def test_ranks_agree_on_progress_as_rank_0_wants_if_all_can():
    assert agreed([(2, True, True), (3, False, True)], 2, True, True) == (3, True)
    # a rank that cannot report (no MPI_THREAD_MULTIPLE) turns it off for everyone
    assert agreed([(1, True, True), (1, True, False)], 1, True, True) == (1, False)
    assert agreed([(1, False, False), (1, True, True)], 1, False, False) == (1, False)


# -- what a user sees, locally ---------------------------------------------------------------

def slow(items: int, *extra: str, pause: float = 0.05) -> list[str]:
    return [sys.executable, "-m", "mpi_lab", "run", "wl_slow", "--param", f"items={items}",
            "--param", f"pause={pause}", *extra]


@pytest.mark.parametrize("backend", ["serial", "threads", "process-pool"])
def test_terminal_shows_a_live_line_that_reaches_100_percent(backend: str):
    screen = terminal.run(slow(40, "--backend", backend, "--workers", "1"), cwd=TESTS,
                          env=clean_env())
    assert screen.code == 0, screen.text
    frames = [(when, counts(text)) for when, text in screen.frames() if counts(text)]
    done = [c[0] for _, c in frames]
    assert done == sorted(done) and frames[-1][1] == (40, 40)
    during = [when for when, (d, _) in frames if 0 < d < 40]
    assert len(during) >= 3, screen.text
    assert min(during) < screen.ended - 0.8  # drawn while it ran, not all at the end
    final = screen.text.split(ERASE)[-1]
    assert final.startswith("wl_slow [####################] 40 of 40 items (100%)")
    assert "\n" in final  # the line is ended before the report


def test_a_narrow_terminal_gets_a_line_that_does_not_wrap():
    # stdout elsewhere (a file, a pipe): the width is stderr's terminal's
    screen = terminal.run(slow(20, "--json"), cwd=TESTS, env=clean_env(), columns=40,
                          pipe_stdout=True)
    assert screen.code == 0
    frames = [text.split("\r\n")[0] for _, text in screen.frames()]
    assert frames and max(len(frame) for frame in frames) < 40


def test_no_progress_on_a_terminal_when_told():
    screen = terminal.run(slow(10, "--no-progress"), cwd=TESTS, env=clean_env())
    assert screen.code == 0 and ERASE not in screen.text and counts(screen.text) is None


def test_piped_stderr_stays_empty_unless_asked():
    log = terminal.run_logged(slow(10), cwd=TESTS, env=clean_env())
    assert log.code == 0 and log.stderr == ""


def test_piped_stderr_gets_a_line_each_second_when_asked():
    log = terminal.run_logged(slow(60, "--progress", "--backend", "serial"), cwd=TESTS,
                              env=clean_env())
    assert log.code == 0, log.stderr
    lines = [(when, counts(text), text) for when, text in log.lines]
    assert all(c is not None and text.startswith("[") and text.endswith("\n")
               and "\r" not in text for _, c, text in lines), log.stderr
    during = [when for when, (done, total), _ in lines if done < total]
    assert len(during) >= 1 and min(during) < log.ended - 0.5
    assert lines[-1][1] == (60, 60)


def test_json_stdout_stays_one_object_with_the_line_on_stderr():
    screen = terminal.run(slow(30, "--json"), cwd=TESTS, env=clean_env(), pipe_stdout=True)
    assert screen.code == 0
    assert json.loads(screen.stdout)["answer"] == 30 and screen.stdout.count("\n") == 1
    assert counts(screen.frames()[-1][1]) == (30, 30)


def test_a_failure_clears_the_line_for_the_error():
    screen = terminal.run(slow(60, "--param", "fail_at=25", "--backend", "threads"),
                          cwd=TESTS, env=clean_env())
    assert screen.code == 1
    assert ERASE in screen.text  # a line was drawn before the failure
    after = screen.text.split(ERASE)[-1]
    assert after.startswith("Error: ") and "item 25" in after, screen.text
    assert "100%" not in screen.text


def test_an_interrupt_clears_the_line_for_its_message():
    screen = terminal.run(slow(100), cwd=TESTS, env=clean_env(),
                          signal_on=(" items (", signal.SIGINT))
    assert screen.code == 130, screen.text
    assert ERASE in screen.text
    assert screen.text.split(ERASE)[-1].startswith("Interrupted (SIGINT)")


# -- under mpiexec ---------------------------------------------------------------------------

def mpiexec(ranks: int, *args: str) -> list[str]:
    return launcher.command(ranks, list(args))


def mpi_env() -> dict[str, str]:
    return clean_env(launcher.launcher_env())


@pytest.mark.parametrize("schedule", ["block", "cyclic", "dynamic"])
@pytest.mark.parametrize("ranks", [2, 4])
def test_every_rank_reaches_rank_0_while_the_ranks_work(ranks: int, schedule: str):
    items = 50 * ranks  # enough on every rank for two lines while they all work
    log = terminal.run_logged(
        mpiexec(ranks, *slow(items, "--progress", "--json", "--backend", "serial",
                             "--schedule", schedule)[3:]),
        cwd=TESTS, env=mpi_env())
    assert log.code == 0, log.stderr
    assert json.loads(log.stdout)["answer"] == items
    lines = [(when, counts(text), text) for when, text in log.lines if counts(text)]
    done = [c[0] for _, c, _ in lines]
    assert done == sorted(done), log.stderr
    during = [(when, d, text) for when, (d, _), text in lines if d < items]
    assert len(during) >= 2 and during[0][0] < log.ended - 0.5, log.stderr
    # more than rank 0's own share done: the others' counts arrived while they worked
    assert any(items / ranks < d for _, d, _ in during), log.stderr
    assert any(f"{ranks} of {ranks} ranks working" in text for _, _, text in during)
    assert lines[-1][1] == (items, items)
    assert f"0 of {ranks} ranks working" in lines[-1][2]


@pytest.mark.parametrize("command", [["pi", "--trials", "3000000"],
                                     ["fractal", "--height", "1000", "--width", "750"]])
def test_the_built_in_workloads_show_their_items_to_the_end(command: list[str]):
    log = terminal.run_logged(mpiexec(2, *command, "--progress", "--json"), cwd=TESTS,
                              env=mpi_env())
    assert log.code == 0, log.stderr
    last = log.lines[-1][1]
    done, total = counts(last)
    assert done == total > 1 and "0 of 2 ranks working" in last
    assert json.loads(log.stdout)["workload"] == command[0]


def test_under_mpiexec_nothing_is_shown_unless_asked():
    log = terminal.run_logged(mpiexec(2, *slow(20)[3:]), cwd=TESTS, env=mpi_env())
    assert log.code == 0 and counts(log.stderr) is None, log.stderr


def test_under_mpiexec_a_failing_rank_ends_the_run_and_its_line():
    log = terminal.run_logged(mpiexec(2, *slow(100, "--progress", "--param", "fail_at=70",
                                                "--backend", "serial")[3:]),
                              cwd=TESTS, env=mpi_env(), timeout=60)
    assert log.code == 1, log.stderr
    assert "Error: rank 1" in log.stderr and "item 70" in log.stderr
    assert "(100%)" not in log.stderr


def test_a_single_rank_on_a_terminal_shows_its_line():
    screen = terminal.run([*slow(30), "--mpi"], cwd=TESTS, env=mpi_env())
    assert screen.code == 0, screen.text
    final = screen.frames()[-1][1]
    assert counts(final) == (30, 30) and "0 of 1 ranks working" in final
