"""README's models table is the one ``benchmarks/readme_table.py`` makes from the bench's
results: a new ``docs/bench/results.json`` that was not written into README fails here."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("readme_table",
                                               ROOT / "benchmarks" / "readme_table.py")
assert _spec is not None and _spec.loader is not None
readme_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme_table)


def test_readme_holds_the_table_of_the_bench_results():
    written = readme_table.block_in((ROOT / "README.md").read_text())
    assert written == readme_table.render(readme_table.load()), (
        "README's models table is not the bench's: run benchmarks/readme_table.py --write")


def test_a_new_bench_result_changes_the_table():
    report = readme_table.load()
    changed = copy.deepcopy(report)
    point = next(r for r in changed["results"] if r["status"] == "ok" and r["workers"] == 2)
    point["speedup"] += 0.5
    assert readme_table.render(changed) != readme_table.render(report)


def test_the_table_names_the_python_and_every_measured_model():
    report = readme_table.load()
    table = readme_table.render(report)
    assert f"Python {report['context']['python']}" in table
    for result in report["results"]:
        if result["ranks"] == 1:
            assert f"| `{result['backend']}` |" in table
    assert f"| {readme_table.MPI_ROW} |" in table


def test_write_replaces_only_the_block():
    text = f"before\n{readme_table.START}\nold\n{readme_table.END}\nafter\n"
    assert readme_table.with_block(text, "new") == (
        f"before\n{readme_table.START}\nnew\n{readme_table.END}\nafter\n")


def test_the_caption_reads_the_plans_of_a_current_bench_file():
    report = copy.deepcopy(readme_table.load())
    report["settings"] = {"repeats": 3, "plans": {"pi": {"trials": 10_000_000, "kernel": "python"}}}
    assert "pi: trials 10,000,000, kernel python" in readme_table.render(report)
