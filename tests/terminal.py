"""Run a command with its stderr (and stdout, unless piped) on a pseudo-terminal, recording
what it writes and when, for the tests of what a user sees."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

ERASE = "\r\x1b[K"


@dataclass
class Screen:
    """What a run wrote on the terminal: ``(seconds since start, text)`` as it came."""

    pieces: list[tuple[float, str]] = field(default_factory=list)
    code: int | None = None
    ended: float = 0.0  # seconds from start to exit
    stdout: str = ""  # when stdout was piped

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.pieces)

    def frames(self) -> list[tuple[float, str]]:
        """Each line drawn in place (between two erasures), with the time it arrived."""
        found = []
        for when, text in self.pieces:
            found.extend((when, part) for part in text.split(ERASE)[1:] if part)
        return found


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 60, pipe_stdout: bool = False,
        signal_on: tuple[str, int] | None = None, columns: int = 200) -> Screen:
    """Run ``cmd`` in its own session on a new terminal ``columns`` wide; send
    ``signal_on = (text, signum)`` to its process group once ``text`` has been written."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=slave,
                            stdout=subprocess.PIPE if pipe_stdout else slave,
                            env=env, cwd=cwd, start_new_session=True,
                            text=pipe_stdout or None)
    os.close(slave)
    screen = Screen()
    try:
        while True:
            now = time.monotonic() - started
            if now > timeout:
                raise TimeoutError(f"{cmd} still running after {timeout} s:\n{screen.text}")
            if signal_on is not None and signal_on[0] in screen.text:
                os.killpg(proc.pid, signal_on[1])
                signal_on = None
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            screen.pieces.append((time.monotonic() - started, data.decode(errors="replace")))
        if pipe_stdout and proc.stdout is not None:
            screen.stdout = proc.stdout.read()
        screen.code = proc.wait(timeout=timeout)
        screen.ended = time.monotonic() - started
    finally:
        os.close(master)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return screen


@dataclass
class Log:
    """A run's stderr read line by line as it came (a pipe, as under ``mpiexec``)."""

    lines: list[tuple[float, str]]
    stdout: str
    code: int
    ended: float

    @property
    def stderr(self) -> str:
        return "".join(text for _, text in self.lines)


def run_logged(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 60) -> Log:
    """Run ``cmd`` with stdout and stderr piped, stamping each stderr line on arrival."""
    import threading

    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=cwd, text=True,
                            start_new_session=True)
    lines: list[tuple[float, str]] = []
    out: list[str] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append((time.monotonic() - started, line))

    def read_stdout() -> None:
        assert proc.stdout is not None
        out.append(proc.stdout.read())

    readers = [threading.Thread(target=read_stderr), threading.Thread(target=read_stdout)]
    for reader in readers:
        reader.start()
    try:
        code = proc.wait(timeout=timeout)
        ended = time.monotonic() - started
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        for reader in readers:
            reader.join(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    return Log(lines, "".join(out), code, ended)
