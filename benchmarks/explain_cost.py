"""What ``--explain`` costs: the same runs side by side, in fresh processes, in turn:

    before  the code before the explain machinery (a git worktree of ``--before``)
    off     this tree, explain off: must cost what ``before`` does (goal: within 1 %)
    on      this tree, ``explain=True`` (goal: within 1 % of ``off``)

Each run's own ``seconds`` (plan to answer) is kept; the medians of ``--repeats`` are compared
(the order rotates each round: the machine's speed drifts); and, beneath them, what one call
of the kernel's wrapper costs around a kernel that does nothing (``Guarded`` before and now,
``Timed``). Prints one JSON object.

    .venv/bin/python benchmarks/explain_cost.py [--repeats 9] [--before REV]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASES = {  # name: (workload, params, backend, workers)
    "pi serial": ("pi", {"trials": 3_000_000}, "serial", 1),
    "pi process-pool": ("pi", {"trials": 6_000_000}, "process-pool", 2),
    "fractal threads": ("fractal", {}, "threads", 2),
    "fractal shared-memory": ("fractal", {}, "shared-memory", 2),
}
ONE_RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
import mpi_lab
workload, params, backend, workers, explain = json.loads(sys.argv[2])
extra = {"explain": True} if explain else {}
report = mpi_lab.run(workload, params=params, backend=backend, workers=workers, **extra)
print(report.seconds)
"""


PER_CALL = """
import json, sys, timeit
sys.path.insert(0, sys.argv[1])
from mpi_lab.core import kernel_calls
wrapper = getattr(kernel_calls, sys.argv[2])(abs)
task = (0, -1)
print(min(timeit.repeat(lambda: wrapper(task), number=200_000, repeat=7)) / 200_000)
"""


def per_call(tree: Path, wrapper: str) -> float:
    """Seconds one call of the kernel wrapper costs around a kernel that does nothing."""
    done = subprocess.run([sys.executable, "-c", PER_CALL, str(tree), wrapper],
                          capture_output=True, text=True, timeout=300, check=True)
    return float(done.stdout.split()[-1])


def before_explain() -> str:
    """The commit before the one that added the explain machinery."""
    added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--",
                            "mpi_lab/local/timing.py"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    return f"{added[-1]}~1" if added else "HEAD"


def one(tree: Path, case: tuple[Any, ...], explain: bool) -> float:
    done = subprocess.run([sys.executable, "-c", ONE_RUN, str(tree), json.dumps([*case, explain])],
                          capture_output=True, text=True, timeout=300, cwd=tree, check=True,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return float(done.stdout.split()[-1])


def measure(before: Path, repeats: int) -> dict[str, Any]:
    variants = {"before": (before, False), "off": (ROOT, False), "on": (ROOT, True)}
    results: dict[str, Any] = {}
    for name, case in CASES.items():
        seconds: dict[str, list[float]] = {variant: [] for variant in variants}
        order = list(variants)
        for round_ in range(repeats):
            for variant in order[round_ % 3:] + order[: round_ % 3]:
                tree, explain = variants[variant]
                seconds[variant].append(one(tree, case, explain))
        medians = {variant: statistics.median(times) for variant, times in seconds.items()}
        results[name] = {**{f"{v}_s": round(m, 4) for v, m in medians.items()},
                         "off_over_before": round(medians["off"] / medians["before"], 4),
                         "on_over_off": round(medians["on"] / medians["off"], 4)}
        print(name, results[name], file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--before", default=None, help="the revision to compare with")
    args = parser.parse_args()
    revision = args.before or before_explain()
    with tempfile.TemporaryDirectory(prefix="mpi_lab_before_") as folder:
        tree = Path(folder) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), revision],
                       cwd=ROOT, check=True)
        try:
            calls = {"before": per_call(tree, "Guarded"), "off": per_call(ROOT, "Guarded"),
                     "on": per_call(ROOT, "Timed")}
            print("per call", calls, file=sys.stderr)
            results = measure(tree, args.repeats)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=False)
    print(json.dumps({"before": revision, "repeats": args.repeats,
                      "per_item_call_us": {k: round(v * 1e6, 3) for k, v in calls.items()},
                      "cases": results}, indent=1))


if __name__ == "__main__":
    main()
