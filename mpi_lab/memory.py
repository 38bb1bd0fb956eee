"""How much memory this machine has free for new work (a light module: plans ask it)."""

from __future__ import annotations


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
