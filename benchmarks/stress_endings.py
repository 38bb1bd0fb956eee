"""Every way a run can end, repeated: exit codes, time to end and leftovers, as a Markdown table.

    .venv/bin/python benchmarks/stress_endings.py [--repeats 20] [--only TEXT] [--trials N]

Each case (see ``tests/endings.py``) runs ``--repeats`` times in a row; the harness cleans up
after every run, so runs do not affect each other. Columns: the exit codes seen (code x count),
the median and max seconds from the signal (from the start for ``deadline``) to the end of
mpiexec or the local process, the leftovers summed over the runs (live processes 5 s after the
end, new /dev/shm entries, new /tmp/pymp-* and /tmp/ompi.* folders) with how many runs left
any, and the most common last stderr line (rulers of dashes skipped, numbers shown as #). Not in CI: the default
set takes about a minute per 3 repeats here.
"""

from __future__ import annotations

import argparse
import collections
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from endings import LONG_TRIALS, Case, Outcome, run_case

MPI_BACKENDS = ("serial", "process-pool", "shared-memory")
MPI_ENDINGS = ("sigint", "sigterm", "sigkill-rank", "deadline", "sigkill-launcher")
LOCAL_BACKENDS = ("process-pool", "shared-memory")
LOCAL_ENDINGS = ("sigint", "sigterm", "deadline")


def default_cases(trials: int) -> list[Case]:
    return [
        *(Case(ending, backend, ranks=2, trials=trials)
          for backend in MPI_BACKENDS for ending in MPI_ENDINGS),
        *(Case(ending, backend, trials=trials)
          for backend in LOCAL_BACKENDS for ending in LOCAL_ENDINGS),
    ]


def _count(outcomes: list[Outcome], kind: str) -> str:
    total = sum(len(outcome.leftovers[kind]) for outcome in outcomes)
    runs = sum(bool(outcome.leftovers[kind]) for outcome in outcomes)
    return "0" if total == 0 else f"{total} ({runs}/{len(outcomes)})"


def _cell(text: str, width: int = 70) -> str:
    text = re.sub(r"\d+(?:\.\d+)?", "#", text).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def row(case: Case, outcomes: list[Outcome]) -> str:
    codes = collections.Counter(outcome.returncode for outcome in outcomes)
    seconds = [o.seconds for o in outcomes if o.seconds is not None]
    timing = ([f"{statistics.median(seconds):.2f}", f"{max(seconds):.2f}"] if seconds
              else ["-", "-"])
    lines = collections.Counter(_cell(outcome.last_message) for outcome in outcomes)
    line, times = lines.most_common(1)[0]
    cells = [
        case.name, str(len(outcomes)),
        ", ".join(f"{code} x{count}" for code, count in sorted(codes.items(), key=str)),
        *timing, *(_count(outcomes, kind) for kind in ("processes", "shm", "pymp", "ompi")),
        f"{line or '(none)'}" + (f" ({times}/{len(outcomes)})" if times < len(outcomes) else ""),
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="runs per case (default 20)")
    parser.add_argument("--only", default=None,
                        help="only cases whose name holds this text, e.g. 'mpiexec-n2 serial'"
                        " or 'sigint'")
    parser.add_argument("--trials", type=int, default=LONG_TRIALS,
                        help=f"trials of the long run (default {LONG_TRIALS})")
    parser.add_argument("--source", type=Path, default=None,
                        help="tree whose mpi_lab runs (default: this repository)")
    options = parser.parse_args()
    cases = [case for case in default_cases(options.trials)
             if options.only is None or options.only in case.name]
    if not cases:
        parser.error(f"no case matches {options.only!r}")
    results: dict[Case, list[Outcome]] = {}
    notes: collections.Counter[str] = collections.Counter()
    for case in cases:
        for repeat in range(options.repeats):
            outcome = run_case(case, source=options.source)
            results.setdefault(case, []).append(outcome)
            for note in outcome.notes:
                notes[f"{case.name}: {_cell(note, 200)}"] += 1
            print(f"{case.name} #{repeat + 1}: exit {outcome.returncode}, "
                  f"{outcome.seconds if outcome.seconds is None else round(outcome.seconds, 2)} s,"
                  f" left {sum(map(len, outcome.leftovers.values()))}", file=sys.stderr,
                  flush=True)
    print("| case | runs | exit codes | median s | max s | processes left | /dev/shm left "
          "| /tmp/pymp left | /tmp/ompi left | most common last stderr line |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for case, outcomes in results.items():
        print(row(case, outcomes))
    print(f"\n{options.repeats} runs per case in a row, pi --trials {options.trials};"
          " leftovers: total (runs with any)")
    for note, count in notes.items():
        print(f"- note x{count}: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
