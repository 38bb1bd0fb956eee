"""The live progress line on stderr: redrawn in place on a terminal, else a line now and then.

A thread samples a ``Status`` source (this process's meter, or under MPI what rank 0 hears from
every rank) and writes one line: items done of total, percent, rate, time left, and under MPI
how many ranks are still working. On a terminal the line is redrawn in place a few times a
second; elsewhere (a log, or ``mpiexec``'s forwarded stderr, which is a pipe) a whole line is
written each second for the first minute, and less often after, each flushed, so that a log
of an hour-long job stays short and lines arrive while the run goes on.

Our own rather than click's, tqdm's or rich's bar: those are driven by the thread that does
the work (ours computes in a backend, or waits in MPI) and, without a terminal, either print
nothing until the end (click, rich: rich#3538) or write every redraw separated by ``\\r``,
which a log shows as one long line and which ``mpiexec`` holds back until a newline comes
(tqdm#1702).
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from mpi_lab.progress.meter import Status

Source = Callable[[], Status]

TERMINAL_EVERY = 0.2  # seconds between redraws on a terminal
LOG_TICK = 0.5  # seconds between samples without one (lines are a second apart or more)
RATE_WINDOW = 10.0  # seconds of history the rate is measured over
BAR = 20  # characters of the bar drawn on a terminal
ERASE = "\r\x1b[K"  # back to the start of the line, and clear it


def log_gap(elapsed: float) -> float:
    """Seconds between lines without a terminal, ``elapsed`` seconds into the run: each second
    for the first minute, every 10 s up to ten minutes, then every minute."""
    if elapsed < 60:
        return 1.0
    return 10.0 if elapsed < 600 else 60.0


def duration(seconds: float) -> str:
    """``0.4 s``, ``8 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def pace(per_second: float) -> str:
    """``1,234 items/s``, ``12.5 items/s``, ``3 items/min``, ``2.5 items/h``."""
    if per_second >= 100:
        return f"{per_second:,.0f} items/s"
    if per_second >= 1:
        return f"{per_second:.3g} items/s"
    if per_second >= 1 / 60:
        return f"{per_second * 60:.3g} items/min"
    return f"{per_second * 3600:.3g} items/h"


class Rate:
    """Items per second over the last ``RATE_WINDOW`` seconds of samples."""

    def __init__(self) -> None:
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, when: float, done: int) -> None:
        self._samples.append((when, done))
        while len(self._samples) > 2 and when - self._samples[1][0] >= RATE_WINDOW:
            self._samples.popleft()

    def per_second(self) -> float | None:
        """None until items have been done over some measurable time."""
        if len(self._samples) < 2:
            return None
        (first, before), (last, now) = self._samples[0], self._samples[-1]
        if last <= first or now <= before:
            return None
        return (now - before) / (last - first)


def describe(label: str, status: Status, rate: float | None, *, bar: bool = False) -> str:
    """``pi: 420 of 1,000 items (42%), 210 items/s, 3 s left, 2 of 2 ranks working``."""
    parts = []
    if status.total:
        share = min(1.0, status.done / status.total)
        if bar:
            filled = round(share * BAR)
            parts.append(f"[{'#' * filled}{'-' * (BAR - filled)}]")
        parts.append(f"{status.done:,} of {status.total:,} items ({share:.0%})")
    else:
        parts.append(f"{status.done:,} items (planning)")
    if rate:
        parts.append(pace(rate))
        if status.total and status.done < status.total:
            parts.append(f"{duration((status.total - status.done) / rate)} left")
    if status.ranks is not None:
        parts.append(f"{status.working} of {status.ranks} ranks working")
    head, *rest = parts
    if bar and status.total:  # the bar, then the figures
        return f"{label} {head} " + ", ".join(rest)
    return f"{label}: " + ", ".join(parts)


class LiveLine:
    """One run's progress line on ``stream``; ``tick`` draws it when due (a thread calls it
    from ``start`` on), ``finish`` draws the last one, ``abandon`` leaves the line empty."""

    def __init__(self, label: str, source: Source, stream: TextIO | None = None, *,
                 terminal: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.source = source
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = _is_terminal(self.stream) if terminal is None else terminal
        self.clock = clock
        self.started = clock()
        self.rate = Rate()
        self.rate.add(self.started, 0)  # a run over before the first sample still has a rate
        self.lines = 0  # lines written (without a terminal) or redraws (on one)
        self._next = self.started + (TERMINAL_EVERY if self.terminal else log_gap(0))
        self._drawn = False  # something is on the terminal's line, not yet ended
        self._broken = False  # a draw failed: the thread only samples the source from then on
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LiveLine:
        self._thread = threading.Thread(target=self._run, name="mpi_lab-progress", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        # Each wake-up takes the GIL from a pure-Python kernel on this thread's core: no more
        # of them than the line needs.
        while not self._stop.wait(TERMINAL_EVERY if self.terminal else LOG_TICK):
            if self._broken:
                self.source()  # under MPI, sampling is receiving: the ranks' reports go on
                continue
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a line that cannot be drawn must not end the run
                self._broken = True

    def tick(self) -> None:
        """Sample the source; draw or write a line if one is due."""
        status = self.source()
        with self._lock:
            now = self.clock()
            self.rate.add(now, status.done)
            if now < self._next:
                return
            elapsed = now - self.started
            self._next = now + (TERMINAL_EVERY if self.terminal else log_gap(elapsed))
            self._write(status, end=False)

    def stop(self) -> None:
        """No more ticks (the thread has ended when this returns)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def finish(self) -> None:
        """Draw the final line, and end it (or, if the run ends meanwhile, clear it)."""
        try:
            self.stop()
            status = self.source()
            with self._lock:
                self.rate.add(self.clock(), status.done)
                self._write(status, end=True)
        except BaseException:
            self.end_line()
            raise

    def abandon(self) -> None:
        """Stop; on a terminal, clear the line (an error or an ending message comes next)."""
        self.stop()
        self.end_line()

    def end_line(self) -> None:
        """Clear what is drawn on the terminal's line, if anything, so that another message
        starts at its beginning."""
        with self._lock:
            if self._drawn:
                self._put(ERASE)
                self._drawn = False

    def _write(self, status: Status, *, end: bool) -> None:
        elapsed = duration(self.clock() - self.started)
        text = describe(self.label, status, self.rate.per_second(), bar=self.terminal)
        if end and status.total and status.done >= status.total:
            text += f", done in {elapsed}"
        with self._lock:
            self.lines += 1
            if not self.terminal:
                self._put(f"[{elapsed}] {text}\n")
                return
            width = self._columns() - 1  # never wrap: \r redraws one line
            self._put(ERASE + text[:width] + ("\n" if end else ""))
            self._drawn = not end

    def _columns(self) -> int:
        """The width of the terminal the line is on (stderr's, whatever stdout is)."""
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size().columns

    def _put(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stderr: no line
            self.stream.write(text)
            self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_shown: list[LiveLine] = []  # the line being drawn in this process, if any


def abandon() -> None:
    """Stop the progress line and clear it, if one is drawn, before writing another message
    (for threads that write while the run goes on, e.g. the deadline's backstop)."""
    for line in _shown[:]:  # a copy: the main thread may remove it meanwhile
        line.abandon()


@contextlib.contextmanager
def shown(label: str, source: Source | None, stream: TextIO | None = None,
          ) -> Iterator[LiveLine | None]:
    """Within the block, a live line of ``source`` (none if None); at the end, the final
    line if the block finished, or a cleared line if it raised."""
    if source is None:
        yield None
        return
    line = LiveLine(label, source, stream).start()
    _shown.append(line)
    try:
        yield line
    except BaseException:
        line.abandon()
        raise
    else:
        line.finish()
    finally:
        _shown.remove(line)


def wanted(flag: bool | None, stream: TextIO | None = None) -> bool:
    """``--progress``/``--no-progress`` if given, else whether ``stream`` (stderr) is a
    terminal."""
    if flag is not None:
        return flag
    return _is_terminal(stream if stream is not None else sys.stderr)
