"""The lab's numbers on each Python, in one session: ``bench`` (both workloads, every model,
1 and 2 workers, 2 ranks) and ``startup_costs.py`` on each, then one table and one plot.

    .venv/bin/python benchmarks/pythons.py [--pythons 3.13,3.14,3.15] [--repeats 3]
    .venv/bin/python benchmarks/pythons.py --report-only    # table and plot from saved runs

Each Python runs in its environment: ``.venv`` if it is that Python, else ``.venv-X.Y``, made
by ``scripts/setup`` with the machine's ``pythonX.Y`` or in the chroot of ``scripts/pythons``.
Writes ``docs/bench/pythons/X.Y/`` (bench's files, ``startup.json``), ``summary.md`` and
``pythons.png``. Speed-ups are against ``serial`` on the same Python in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "bench" / "pythons"
WORKLOADS = ("pi", "fractal")


def environment(version: str) -> tuple[list[str], Path]:
    """The command prefix that runs in ``version``'s world, and its environment's python."""
    main = ROOT / ".venv" / "bin" / "python"
    found = subprocess.run([str(main), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, check=False).stdout.strip()
    if found == version:
        return [], main
    venv = ROOT / f".venv-{version}"
    prefix = [str(ROOT / "scripts" / "pythons"), "run", version]
    subprocess.run([*prefix, "env", f"PYTHON=python{version}", f"VENV={venv}",
                    str(ROOT / "scripts" / "setup")], check=True)
    return prefix, venv / "bin" / "python"


def measure(version: str, repeats: int, quick: bool) -> None:
    prefix, python = environment(version)
    out = OUT / version
    out.mkdir(parents=True, exist_ok=True)
    print(f"== Python {version}: bench", file=sys.stderr, flush=True)
    subprocess.run([*prefix, str(python), "-m", "mpi_lab", "bench", "--out", str(out),
                    "--workers", "1,2", "--ranks", "2", "--repeats", str(repeats),
                    *(["--quick"] if quick else [])], check=True)
    print(f"== Python {version}: start-up", file=sys.stderr, flush=True)
    done = subprocess.run([*prefix, str(python), str(ROOT / "benchmarks" / "startup_costs.py"),
                           "--repeats", str(max(5, 2 * repeats + 1))],
                          check=True, capture_output=True, text=True)
    (out / "startup.json").write_text(done.stdout)


def load(version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    folder = OUT / version
    return (json.loads((folder / "results.json").read_text()),
            json.loads((folder / "startup.json").read_text()))


def speedups(bench: dict[str, Any]) -> dict[tuple[str, str, int, int], float | None]:
    return {(row["workload"], row["backend"], row["workers"], row["ranks"]):
            row["speedup"] if row["status"] == "ok" else None for row in bench["results"]}


Runs = dict[str, tuple[dict[str, Any], dict[str, Any]]]  # version -> (bench, start-up)


def table(versions: list[str], runs: Runs) -> str:
    ups = {version: speedups(runs[version][0]) for version in versions}
    pythons = [runs[v][0]["context"]["python"] for v in versions]
    head = "| workload | model | workers × ranks | " + " | ".join(pythons) + " |"
    lines = [head, "|" + "---|" * 3 + "---:|" * len(versions)]
    for workload, backend, workers, ranks in ups[versions[0]]:
        cells = []
        for version in versions:
            value = ups[version].get((workload, backend, workers, ranks))
            cells.append("—" if value is None else f"{value:.2f}×")
        lines.append(f"| {workload} | {backend} | {workers} × {ranks} | {' | '.join(cells)} |")
    serial = {v: {row["workload"]: row["seconds"] for row in runs[v][0]["results"]
                  if row["backend"] == "serial" and row["status"] == "ok"} for v in versions}
    for workload in WORKLOADS:
        lines.append(f"| {workload} | serial, seconds | 1 × 1 | "
                     + " | ".join(f"{serial[v].get(workload, float('nan')):.3f} s"
                                  for v in versions) + " |")
    lines += ["", ("Start-up: a whole `mpi_lab.run` of 2 trivial items on 2 workers, less"
                   " the same run on serial (milliseconds, median); beneath it, the bare"
                   " standard library."), "", "| start-up | " + " | ".join(pythons) + " |",
              "|---|" + "---:|" * len(versions)]
    labels: list[tuple[str, str]] = []
    for version in versions:
        for part in ("lab_start", "bare_start"):
            for label in runs[version][1][part]:
                if (part, label) not in labels:
                    labels.append((part, label))
    for part, label in labels:
        cells = []
        for version in versions:
            value = runs[version][1][part].get(label)
            cells.append("—" if not isinstance(value, float) else f"{value * 1000:.1f}")
        name = label if part == "lab_start" else f"bare: {label}"
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines.append("| default start method | " + " | ".join(
        runs[v][1]["default_start_method"] for v in versions) + " |")
    return "\n".join(lines) + "\n"


def plot(versions: list[str], runs: Runs, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ups = {version: speedups(runs[version][0]) for version in versions}
    fig, axes = plt.subplots(3, 2, figsize=(13, 12))
    width = 0.8 / len(versions)
    for row, workload in enumerate(WORKLOADS):
        for col, workers in enumerate((1, 2)):
            ax = axes[row][col]
            keys = [key for key in ups[versions[0]] if key[0] == workload and key[2] == workers]
            for k, version in enumerate(versions):
                values = [ups[version].get(key) or 0.0 for key in keys]
                ax.bar([i + k * width for i in range(len(keys))], values, width,
                       label=runs[version][0]["context"]["python"])
            ax.set_xticks([i + width * (len(versions) - 1) / 2 for i in range(len(keys))])
            ax.set_xticklabels([f"{b}\n{r} ranks" if r > 1 else b for _, b, _, r in keys],
                               rotation=45, ha="right", fontsize=8)
            ax.axhline(1.0, color="grey", linewidth=0.8)
            ax.set_title(f"{workload}, {workers} worker{'s' * (workers > 1)}: speed-up over serial")
            ax.legend(fontsize=8)
    for col, part in enumerate(("lab_start", "bare_start")):
        ax = axes[2][col]
        labels = list(dict.fromkeys(label for v in versions for label in runs[v][1][part]))
        for k, version in enumerate(versions):
            values = [runs[version][1][part].get(label) for label in labels]
            ax.bar([i + k * width for i in range(len(labels))],
                   [v * 1000 if isinstance(v, float) else 0.0 for v in values], width,
                   label=runs[version][0]["context"]["python"])
        ax.set_xticks([i + width * (len(versions) - 1) / 2 for i in range(len(labels))])
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("milliseconds")
        ax.set_title("start-up of 2 workers through the lab" if part == "lab_start"
                     else "start-up, bare standard library")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main() -> None:
    global OUT  # noqa: PLW0603 - --out moves every file this script reads and writes
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pythons", default="3.13,3.14,3.15")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="bench's small sizes (a trial)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    OUT = args.out
    versions = args.pythons.split(",")
    if not args.report_only:
        for version in versions:
            measure(version, args.repeats, args.quick)
    runs = {version: load(version) for version in versions}
    summary = table(versions, runs)
    (OUT / "summary.md").write_text(summary)
    plot(versions, runs, OUT / "pythons.png")
    print(summary)
    print(f"wrote {OUT / 'summary.md'} and {OUT / 'pythons.png'}", file=sys.stderr)


if __name__ == "__main__":
    main()
