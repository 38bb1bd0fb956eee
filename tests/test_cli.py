"""The CLI contract: options, exit codes, one-line errors, JSON output, lazy imports."""

from __future__ import annotations

import functools
import inspect
import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from reference import seed_fractal

from mpi_lab import backends, cli
from mpi_lab.backends._base import Availability
from mpi_lab.backends.interpreter_pool import InterpreterPoolBackend
from mpi_lab.core.errors import LabError
from mpi_lab.workloads import BUILTIN
from mpi_lab.workloads.contract import load

PI_KEYS = {"workload", "trials", "hits", "estimate", "seed", "kernel", "block_size", "backend",
           "workers", "ranks", "schedule", "seconds", "per_rank"}
FRACTAL_KEYS = {"workload", "height", "width", "maxiter", "checksum", "sha256", "kernel",
                "backend", "workers", "ranks", "schedule", "seconds", "output", "per_rank"}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


BAD_INPUTS = [
    (["pi", "--trials", "0"], "trials"),
    (["pi", "--trials", "-5"], "trials"),
    (["pi", "--trials", "abc"], "trials"),
    (["pi", "--trials", "1.5"], "trials"),
    (["pi", "--block-size", "0"], "block size"),
    (["pi", "--workers", "0"], "workers"),
    (["pi", "--workers", "-2"], "workers"),
    (["pi", "--workers", "many"], "workers"),
    (["pi", "--backend", "gpu"], "backend"),
    (["pi", "--seed", "-1"], "seed"),
    (["pi", "--kernel", "fortran"], "kernel"),
    (["fractal", "--height", "0"], "height"),
    (["fractal", "--width", "-3"], "width"),
    (["fractal", "--maxiter", "0"], "maxiter"),
    (["fractal", "--output", "/nonexistent-folder/f.npy"], "does not exist"),
    (["fractal", "--output", "fractal.txt"], "suffix"),
    (["pi", "--start-method", "threads"], "start-method"),
    (["nonsense"], "nonsense"),
]


@pytest.mark.parametrize(("args", "named"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line(capsys, args: list[str], named: str):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert named in lines[0]
    assert "Traceback" not in err


def test_numpy_kernel_on_interpreter_backend_is_refused(capsys, monkeypatch):
    # Make the backend available even where it is not, so the kernel check is what fails.
    monkeypatch.setattr(InterpreterPoolBackend, "availability", classmethod(lambda cls: Availability(True)))
    code, _, err = run_cli(capsys, "pi", "--kernel", "numpy", "--backend", "interpreter-pool")
    assert code == 2
    assert "NumPy" in err and len(err.strip().splitlines()) == 1


def test_unavailable_backend_is_refused_with_reason(capsys, monkeypatch):
    monkeypatch.setattr(
        InterpreterPoolBackend, "availability",
        classmethod(lambda cls: Availability(False, "no subinterpreters in this test")),
    )
    code, out, err = run_cli(capsys, "pi", "--trials", "10", "--backend", "interpreter-pool")
    assert (code, out) == (2, "")
    assert "no subinterpreters in this test" in err


def test_missing_start_method_is_refused(capsys, monkeypatch):
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    code, _, err = run_cli(capsys, "pi", "--trials", "10", "--backend", "process-pool",
                           "--start-method", "fork")
    assert code == 2
    assert "not available on this platform" in err


def test_pi_json_is_one_object_with_contract_fields(capsys):
    code, out, _ = run_cli(capsys, "pi", "--trials", "20001", "--block-size", "5000",
                           "--backend", "threads", "--workers", "2", "--json")
    assert code == 0
    fields = json.loads(out)
    assert fields.keys() >= PI_KEYS
    assert fields["trials"] == 20001 and fields["workers"] == 2 and fields["ranks"] == 1
    assert fields["estimate"] == 4 * fields["hits"] / 20001
    assert [r["items"] for r in fields["per_rank"]] == [5]


def test_fractal_json_and_npy_output(capsys, tmp_path):
    target = tmp_path / "f.npy"
    code, out, _ = run_cli(capsys, "fractal", "--height", "40", "--width", "30", "--json",
                           "--output", str(target), "--backend", "thread-pool")
    assert code == 0
    fields = json.loads(out)
    assert fields.keys() >= FRACTAL_KEYS
    expected = seed_fractal(40, 30, 20)
    assert fields["checksum"] == int(expected.sum())
    assert fields["output"] == str(target)
    assert np.array_equal(np.load(target), expected)
    assert [p.name for p in tmp_path.iterdir()] == ["f.npy"]


def test_png_output_decodes_with_the_fractal_size(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib import image

    target = tmp_path / "f.png"
    code, _, _ = run_cli(capsys, "fractal", "--height", "23", "--width", "41",
                         "--output", str(target))
    assert code == 0
    assert image.imread(target).shape[:2] == (23, 41)


def test_failed_run_leaves_no_output_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MPI_LAB_FAULT", "raise")
    target = tmp_path / "f.npy"
    code, _, err = run_cli(capsys, "fractal", "--height", "10", "--width", "10",
                           "--output", str(target))
    assert code == 1
    assert "InjectedFault" in err
    assert list(tmp_path.iterdir()) == []


def test_failed_run_leaves_no_png(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPI_LAB_FAULT", "raise")
    code, _, _ = run_cli(capsys, "fractal", "--height", "10", "--width", "10",
                         "--output", str(tmp_path / "f.png"))
    assert code == 1
    assert list(tmp_path.iterdir()) == []


def save_fractal(pixels: np.ndarray, path: Path) -> Path:
    """``pixels`` saved as the fractal command saves its answer: its ``save`` hook, atomically."""
    from mpi_lab.present import files
    from mpi_lab.workloads import fractal

    return files.save(functools.partial(fractal.save, fractal.Answer(pixels)), path)


def test_failed_png_render_leaves_no_partial_file(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from mpi_lab.workloads import fractal

    def broken(pixels, path):
        path.write_bytes(b"\x89PNG partial")
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(fractal, "save_png", broken)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        save_fractal(np.zeros((2, 2), np.int32), tmp_path / "f.png")
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    def broken_save(stream, array):
        stream.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(LabError, match=r"cannot write .*f\.npy.*disk full"):
        save_fractal(np.zeros((2, 2), np.int32), tmp_path / "f.npy")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_after_the_run_is_one_line(capsys, tmp_path, monkeypatch):
    def full_disk(stream, array):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", full_disk)
    code, _, err = run_cli(capsys, "fractal", "--height", "20", "--width", "10",
                             "--output", str(tmp_path / "f.npy"), "--no-mpi")
    assert code == 1
    assert err.strip().splitlines() == [
        f"Error: cannot write {str(tmp_path / 'f.npy')!r}: No space left on device"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "says"), [
    (("--output", "/proc/x.npy"), "cannot write in '/proc'"),
    (("--height", "1000000", "--width", "1000000"), "needs 5000.0 GB of memory on rank 0"),
])
def test_limits_are_known_before_computing(capsys, args, says):
    code, _, err = run_cli(capsys, "fractal", *args, "--no-mpi")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and says in err


def test_output_that_cannot_fit_is_refused(capsys, tmp_path, monkeypatch):
    from mpi_lab.present import files

    monkeypatch.setattr(files.shutil, "disk_usage", lambda path: type("U", (), {"free": 100}))
    code, _, err = run_cli(capsys, "fractal", "--height", "20", "--width", "10",
                           "--output", str(tmp_path / "f.npy"), "--no-mpi")
    assert code == 2
    assert f"needs {20 * 10 * 4 + 128} bytes" in err and "has 100 bytes free" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("backend", "ok"), [("thread-pool", False), ("serial", False),
                                             ("process-pool", True)])
def test_start_method_applies_only_to_process_backends(capsys, backend, ok):
    code, _, err = run_cli(capsys, "pi", "--trials", "1000", "--backend", backend,
                           "--start-method", "spawn", "--workers", "1", "--no-mpi")
    assert code == (0 if ok else 2), err
    assert ok or "--start-method applies to process-pool and shared-memory" in err


def test_serial_reports_the_one_worker_it_runs_and_no_schedule_without_mpi(capsys):
    code, out, _ = run_cli(capsys, "pi", "--trials", "1000", "--backend", "serial",
                           "--workers", "8", "--json", "--no-mpi")
    fields = json.loads(out)
    assert (code, fields["workers"], fields["schedule"]) == (0, 1, None)
    assert [rank["workers"] for rank in fields["per_rank"]] == [1]


def test_text_output_names_model_workers_and_time(capsys):
    code, out, _ = run_cli(capsys, "pi", "--trials", "1000", "--backend", "serial",
                           "--workers", "1")
    assert code == 0
    assert out.startswith("pi ~ 3.")
    assert "backend serial, 1 worker\n" in out
    assert "Took " in out


def test_auto_backend_explains_its_choice(capsys):
    code, out, _ = run_cli(capsys, "fractal", "--height", "8", "--width", "8")
    assert code == 0
    assert "(auto: " in out


def test_info_json_lists_every_backend(capsys):
    code, out, _ = run_cli(capsys, "info", "--json")
    assert code == 0
    details = json.loads(out)
    assert details["python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
    assert isinstance(details["gil"], bool)
    names = [b["name"] for b in details["backends"]]
    assert names[0] == "serial" and sorted(names) == sorted(backends.NAMES)
    for backend in details["backends"]:
        assert backend["available"] or backend["reason"]


@pytest.mark.parametrize("args", [["--help"], ["pi", "--help"], ["fractal", "--help"]])
def test_help_imports_neither_numpy_nor_mpi(args: list[str]):
    probe = (
        "import sys; from mpi_lab.cli import main; main(%r); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'mpi4py'}))" % args
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "Usage:" in done.stdout


def test_module_entry_point_exit_codes():
    ok = subprocess.run([sys.executable, "-m", "mpi_lab", "pi", "--trials", "100", "--json"],
                        capture_output=True, text=True, timeout=60)
    bad = subprocess.run([sys.executable, "-m", "mpi_lab", "pi", "--trials", "0"],
                         capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and json.loads(ok.stdout)["trials"] == 100
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


@pytest.mark.parametrize("name", list(BUILTIN))
def test_builtin_options_are_the_workloads_declared_parameters(capsys, name: str):
    workload = load(name)
    command = cli.cli.commands[name]
    with click.Context(command) as ctx:
        options = {option.name: option for option in command.get_params(ctx)}
    plan_defaults = inspect.signature(workload.plan).parameters
    code, out, _ = run_cli(capsys, name, "--help")
    shown = " ".join(out.split())
    assert code == 0 and workload.parameters
    for param in workload.parameters:
        option = options[param.name]
        assert option.default == param.default == plan_defaults[param.name].default
        assert option.opts == [f"--{param.name.replace('_', '-')}"]
        assert f"{param.help} [default: {param.default}]" in shown
        if param.choices:
            assert f"[{'|'.join(param.choices)}]" in shown
    assert ("output" in options) == (workload.save is not None) == (name == "fractal")


def test_a_workload_command_is_made_from_what_the_workload_declares(tmp_path):
    from click.testing import CliRunner

    seen = {}
    command = cli.WorkloadCommand(
        "saved", workload="wl_saved",
        callback=lambda params, **run: seen.update(params=params, output=run["output"]))
    done = CliRunner().invoke(command, ["--n", "7", "--output", "x.txt"])
    assert done.exit_code == 0, done.output
    assert seen == {"params": {"n": 7, "unit": "one"}, "output": "x.txt"}
    assert CliRunner().invoke(command, ["--unit", "yards"]).exit_code == 2
    shown = " ".join(CliRunner().invoke(command, ["--help"]).output.split())
    assert "--unit [one|ten] What the sum counts in. [default: one]" in shown
    assert "--output FILE Write the sum and what it was made of, written atomically." in shown


def test_help_loads_no_workload():
    probe = ("import sys; from mpi_lab.cli import main; main(['--help']); "
             "print(sorted(m for m in sys.modules if m.startswith('mpi_lab.workloads.')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
