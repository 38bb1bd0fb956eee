"""README's table of the lab's models, made from the bench's results (never typed by hand).

    .venv/bin/python benchmarks/readme_table.py            print the table
    .venv/bin/python benchmarks/readme_table.py --write    rewrite it in README.md, in place

It reads ``docs/bench/results.json`` (``python -m mpi_lab bench --out docs/bench`` writes it)
and gives one row per model: each backend with 1..N workers in one process, then MPI ranks of
one worker each; a cell is the speed-up against ``serial`` with 1 worker of the same session.
README holds the table between ``START`` and ``END``; ``tests/test_readme_table.py`` fails
when the two differ, so a new bench run must be followed by ``--write``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "bench" / "results.json"
README = ROOT / "README.md"
START = "<!-- models-table:start -->"
END = "<!-- models-table:end -->"
MPI_ROW = "MPI ranks"


def load(path: Path = RESULTS) -> dict[str, Any]:
    return json.loads(path.read_text())


def _summary(backend: str) -> str:
    """The backend's own one-line description (its class's ``summary``), if it still exists."""
    from mpi_lab import backends
    from mpi_lab.core.errors import ConfigError

    try:
        return backends.backend_class(backend).summary
    except ConfigError:
        return ""


def _plans(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each workload's plan parameters in the session (older files: ``trials`` and ``size``)."""
    if "plans" in settings:
        return settings["plans"]
    plans: dict[str, dict[str, Any]] = {}
    if "trials" in settings:
        plans["pi"] = {"trials": settings["trials"]}
    if "size" in settings:
        plans["fractal"] = dict(zip(("height", "width"), settings["size"], strict=True))
    return plans


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _cell(result: dict[str, Any]) -> str:
    if result["status"] == "skipped":
        return "n/a"
    if result["status"] != "ok":
        return result["status"]
    return "–" if result["speedup"] is None else f"{result['speedup']:.2f}×"


def _caption(report: dict[str, Any]) -> str:
    context, settings = report["context"], report["settings"]
    mpi = (context.get("mpi") or "no MPI").split(",")[0].strip("\x00 ")
    gil = "GIL on" if context.get("gil", True) else "GIL off"
    plans = "; ".join(
        f"{workload}: " + ", ".join(f"{key} {_number(value)}" for key, value in params.items())
        for workload, params in _plans(settings).items()
    )
    return (
        f"Speed-up against `serial` with 1 worker; median of {settings['repeats']} runs per"
        f" point, each in a fresh process. ×N: N workers in one process, or N MPI ranks of one"
        f" worker each. Measured {context['date'][:10]} on {context['cpus']} CPUs"
        f" ({context['machine']}), Python {context['python']} ({gil}), {mpi}; {plans}."
    )


def render(report: dict[str, Any]) -> str:
    """The README block: caption, table, and why any cell was not measured."""
    results = report["results"]
    workloads = list(dict.fromkeys(r["workload"] for r in results))
    counts = sorted({r["workers"] * r["ranks"] for r in results})
    rows: dict[str, dict[tuple[str, int], str]] = {}
    describe: dict[str, str] = {}
    missing: dict[str, dict[str, list[str]]] = {}  # why -> workload -> backends
    for r in results:
        if r["ranks"] == 1:
            row = f"`{r['backend']}`"
            describe.setdefault(row, _summary(r["backend"]))
        else:
            row = MPI_ROW
            describe.setdefault(row, f"`mpiexec -n N`, each rank running its share on"
                                     f" `{r['backend']}` (what `auto` picks for one worker)")
        rows.setdefault(row, {})[r["workload"], r["workers"] * r["ranks"]] = _cell(r)
        if r["status"] != "ok":
            where = missing.setdefault(f"{r['status']}: {r['reason']}", {})
            where.setdefault(r["workload"], [])
            if f"`{r['backend']}`" not in where[r["workload"]]:
                where[r["workload"]].append(f"`{r['backend']}`")
    columns = [(workload, count) for workload in workloads for count in counts]
    lines = [
        _caption(report),
        "",
        "| model | what it is | " + " | ".join(f"{w} ×{n}" for w, n in columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for row, cells in rows.items():
        lines.append(f"| {row} | {describe[row]} | "
                     + " | ".join(cells.get(column, "") for column in columns) + " |")
    for why, where in missing.items():
        runs = "; ".join(f"{w} on {', '.join(names)}" for w, names in where.items())
        lines += ["", f"n/a ({runs}): {why}."]
    return "\n".join(lines)


def block_in(text: str) -> str:
    """What README holds between the markers (without them)."""
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} ... {END} block")
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def with_block(text: str, block: str) -> str:
    before = text.split(START, 1)[0]
    after = text.split(END, 1)[1]
    return f"{before}{START}\n{block}\n{END}{after}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the block in README.md")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    block = render(load(args.results))
    if not args.write:
        print(block)
        return 0
    text = README.read_text()
    block_in(text)  # the markers must be there
    README.write_text(with_block(text, block))
    print(f"README.md: models table rewritten from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
