"""This machine's resources as plans and runs see them: cores this process may use, memory
free for new work, and sizes put in words."""

from __future__ import annotations

import os


def local_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def available_memory() -> int | None:
    """Bytes of memory available for new work here (``MemAvailable``), if the system says."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def gigabytes(nbytes: int) -> str:
    """A size to read: ``12.3 GB``, ``4.0 MB`` or ``900 bytes``."""
    if nbytes >= 1e8:
        return f"{nbytes / 1e9:.1f} GB"
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 1e5 else f"{nbytes} bytes"
