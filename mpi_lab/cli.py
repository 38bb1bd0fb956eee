"""The command line: parse, call the library, print. No computation here."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from mpi_lab import backends
from mpi_lab.core import env
from mpi_lab.core.errors import INTERRUPTED_EXIT, ConfigError, LabError, RunEnded
from mpi_lab.core.protocol import ROOT
from mpi_lab.mpi import schedules


class Checked(click.ParamType):
    """An option checked by the function of ``mpi_lab.options`` that ``RunOptions`` checks it
    with (``check``, its name: the module loads on use, and ``--help`` stays fast): one check
    per option, whichever way it is given."""

    def __init__(self, check: str, metavar: str) -> None:
        self.check = check
        self.name = metavar

    def get_metavar(self, param: click.Parameter, *args: Any, **kwargs: Any) -> str:
        return self.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from mpi_lab import options

        try:
            return getattr(options, self.check)(value)
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


def common_options(func: Any) -> Any:
    """Options shared by the workload commands: the model, workers, schedule and output form."""
    decorators = [
        click.option(
            "--backend", type=Checked("backend_name", "[" + "|".join(backends.CHOICES) + "]"),
            default="auto", show_default=True,
            help="Local parallel model each rank runs its share with ('info' lists them).",
        ),
        click.option(
            "--workers", type=Checked("worker_count", "auto|N"), default="auto",
            show_default=True,
            help="Workers per rank; auto = cores of the node / ranks on the node.",
        ),
        click.option(
            "--schedule", type=Checked("schedule_name", "[" + "|".join(schedules.NAMES) + "]"),
            default=None,
            help="How rank 0 hands items out to MPI ranks (no effect without MPI): "
            + "; ".join(f"{name}: {schedules.summary(name)}" for name in schedules.NAMES)
            + " [default: the workload's own].",
        ),
        click.option(
            "--start-method",
            type=Checked("start_method_name", "[" + "|".join(backends.START_METHODS) + "]"),
            default=None,
            help="How " + "/".join(backends.names_where(starts_processes=True)) + " start their"
            " processes [default: forkserver where the platform has it, else spawn].",
        ),
        click.option("--json", "as_json", is_flag=True,
                     help="Print one JSON object instead of text (on failure: error, exit"
                     " code and the worker's traceback)."),
        click.option("--traceback", "show_traceback", is_flag=True,
                     help="On a kernel failure, also print the worker's traceback."),
        click.option(
            "--deadline", type=Checked("deadline_seconds", "SECONDS"), default=None,
            help="End the run (every rank) if it has not finished after SECONDS: a guard"
            " against hung or unreachable ranks.",
        ),
        click.option(
            "--progress/--no-progress", default=None,
            help="Show items done, rate, time left (and ranks working) live on stderr"
            " [default: when stderr is a terminal; under mpiexec, rank 0's is not: ask]. A"
            " line redrawn on a terminal, else a line each second, less often after a minute.",
        ),
        click.option(
            "--mpi/--no-mpi", "mpi", default=None,
            help="Run across MPI ranks [default: only when started by mpiexec/mpirun/srun].",
        ),
    ]
    for option in reversed(decorators):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mpi_lab")
def cli() -> None:
    """mpi_lab: the seed's two workloads, and yours, through every parallel model Python has.

    \b
    Examples:
      python -m mpi_lab pi --backend threads --workers 2
      python -m mpi_lab fractal --backend shared-memory --output fractal.npy
      python -m mpi_lab run examples.primes --param limit=100000 --backend process-pool
      python -m mpi_lab info
    """


@cli.command()
@click.option("--trials", type=int, default=10_000_000, show_default=True,
              help="Random points to draw.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed; block k draws from the generator of (seed, k).")
@click.option("--kernel", type=click.Choice(["python", "numpy"]), default="python",
              show_default=True, help="Pure-Python loop (the seed's) or vectorised NumPy.")
@click.option("--block-size", type=int, default=100_000, show_default=True,
              help="Trials per work item; hits depend on it, not on backend or workers.")
@common_options
def pi(trials: int, seed: int, kernel: str, block_size: int, **run: Any) -> None:
    """Estimate π by Monte Carlo (pure Python, as in the seed)."""
    _run("pi", {"trials": trials, "seed": seed, "kernel": kernel, "block_size": block_size}, run)


@cli.command()
@click.option("--height", type=int, default=4000, show_default=True, help="Rows (imaginary -1..0).")
@click.option("--width", type=int, default=3000, show_default=True, help="Columns (real -1.5..0).")
@click.option("--maxiter", type=int, default=20, show_default=True, help="Iterations of z**2 + c.")
@click.option("--kernel", type=click.Choice(["numpy", "python"]), default="numpy",
              show_default=True, help="NumPy bands (fast) or pure-Python rows (subinterpreters).")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Save the array (.npy) or a coloured image (.png), written atomically.")
@common_options
def fractal(height: int, width: int, maxiter: int, kernel: str, output: str | None,
            **run: Any) -> None:
    """Compute the seed's Mandelbrot fractal (NumPy)."""
    params = {"height": height, "width": width, "maxiter": maxiter, "kernel": kernel}
    _run("fractal", params, run, output=output)


@cli.command(context_settings={"show_default": True})
@click.argument("spec")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter for the workload's plan(); repeat for more. VALUE is a Python"
              " literal where it parses (10, 2.5, [1, 2], 'a b'), else a string.")
@common_options
def run(spec: str, params: tuple[str, ...], **run: Any) -> None:
    """Run your own workload SPEC through any model: a module, or MODULE:NAME of an object in
    it, importable from the current folder or PYTHONPATH, or a file, PATH.py or PATH.py:NAME,
    with three callables:

    \b
      plan(**params) -> the work items, in order (picklable)
      kernel(item)   -> the result of one item (a pure function)
      combine(results) -> the answer, from every result in plan order

    \b
    Examples:
      python -m mpi_lab run examples.primes --param limit=200000 --backend process-pool
      mpiexec -n 2 python -m mpi_lab run examples.random_walk --json

    README, "Write your own workload", tells the optional hooks (NumPy, result layout, how
    to show the answer).
    """
    _run(spec, params, run)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected whole numbers separated by commas") from None
    if not values or min(values) < 1:
        raise click.BadParameter(f"{text!r}: expected numbers of at least 1")
    return values


def _name_list(choices: tuple[str, ...]) -> Any:
    def convert(ctx: click.Context, param: click.Parameter, text: str | None) -> Any:
        if text is None:
            return None
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise click.BadParameter(f"{text!r}: choose from {', '.join(choices)}")
        return names

    return convert


@cli.command()
@click.option("--quick", is_flag=True, help="A small matrix (under a minute on 2 cores).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Write results.json, results.csv, results.md and speedup.png here.")
@click.option("--workloads", callback=_name_list(("pi", "fractal")), default=None,
              help="Comma-separated subset of: pi, fractal.")
@click.option("--workload", "spec", default=None, metavar="SPEC",
              help="Your own workload instead (as for 'run': module or module:name).")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter for --workload's plan(); repeat for more.")
@click.option("--backends", "backend_names", callback=_name_list(backends.NAMES), default=None,
              help="Comma-separated backends (default: all; unavailable ones are listed as"
              " skipped).")
@click.option("--workers", "workers_text", default=None, help="Worker counts, e.g. 1,2,4.")
@click.option("--ranks", "ranks_text", default=None, help="MPI rank counts, e.g. 2,4.")
@click.option("--repeats", type=click.IntRange(min=1), default=None,
              help="Runs per point; the median is kept.")
def bench(quick: bool, out: str | None, workloads: Any, spec: str | None,
          params: tuple[str, ...], backend_names: Any, workers_text: str | None,
          ranks_text: str | None, repeats: int | None) -> None:
    """Measure every model: time, speed-up and efficiency against serial, per point.

    Each point runs in a fresh process (under mpiexec for several ranks), repeated, median
    kept; each answer is checked against serial's. Backends that cannot run the workload
    are listed as skipped, with the reason.

    \b
    Examples:
      python -m mpi_lab bench --quick
      python -m mpi_lab bench --workload examples.primes --param limit=500000 --ranks 2
    """
    import dataclasses

    from mpi_lab.bench import matrix as lab_bench

    settings = lab_bench.Settings.quick() if quick else lab_bench.Settings()
    changes: dict[str, Any] = {}
    if workloads and spec:
        raise click.UsageError("--workloads names built-in workloads; --workload your own:"
                               " give one or the other")
    if params and not spec:
        raise click.UsageError("--param applies to --workload SPEC")
    if workloads:
        changes["workloads"] = workloads
    if spec:
        from mpi_lab.workloads.contract import parse_params

        # A bad spec or parameter fails as the run starts (bench.why_unfit plans it), before
        # any point is measured.
        changes["workloads"], changes["plans"] = (spec,), {spec: parse_params(params)}
    if backend_names:
        changes["backends"] = backend_names
    if workers_text:
        changes["workers"] = _int_list(workers_text)
    if ranks_text:
        changes["ranks"] = _int_list(ranks_text)
    if repeats:
        changes["repeats"] = repeats
    settings = dataclasses.replace(settings, **changes)

    def progress(points: Any) -> Any:
        def show(point: Any) -> str:
            if point is None:
                return ""
            return f"{point.workload} {point.backend} x{point.workers} on {point.ranks} rank(s)"

        bar = click.progressbar(points, label="bench", item_show_func=show, file=sys.stderr)
        with bar as shown:
            yield from shown

    # A bar only on a terminal: piped or logged, stderr stays free of its lines.
    report = lab_bench.run(settings, progress if sys.stderr.isatty() else None)
    context = report["context"]
    click.echo(f"Python {context['python']} (GIL {'on' if context['gil'] else 'off'}), "
               f"{context['cpus']} CPUs, MPI: {context['mpi']}, {context['date']}")
    click.echo("\n".join(lab_bench.table(report)))
    if out is not None:
        from pathlib import Path

        for path in lab_bench.write(report, Path(out)):
            click.echo(f"wrote {path}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def info(as_json: bool) -> None:
    """Show the Python build, GIL, MPI library and which backends run here (and why not)."""
    from mpi_lab import info as lab_info
    from mpi_lab.present.text import info_lines

    details = lab_info.collect()
    if as_json:
        import json

        click.echo(json.dumps(details))
    else:
        click.echo("\n".join(info_lines(details)))


def _run(spec: str, params: dict[str, Any] | tuple[str, ...], run: dict[str, Any],
         output: str | None = None) -> None:
    """Run a workload as the options say and print its report; however it ends, also what
    ``--traceback`` and ``--json`` ask for. ``params``: a dict, or ``KEY=VALUE`` strings."""
    from mpi_lab import frame
    from mpi_lab.cluster.detect import use_mpi
    from mpi_lab.local.jobs import Job
    from mpi_lab.options import FIELDS, RunOptions

    try:
        settings = RunOptions(**{name: run[name] for name in FIELDS})
        if isinstance(params, tuple):
            from mpi_lab.workloads.contract import parse_params

            params = parse_params(params)
        if use_mpi(settings.mpi):
            _importable_here()
        job = Job.of(spec, params)
        report = frame.run(job, settings, before=_output_check(output))
    except LabError as exc:
        _failed(exc, run)
        raise
    except RunEnded as exc:
        _failed(exc, run)
        # Through click as it is: an ``Interrupted`` is a ``KeyboardInterrupt``, which click
        # would turn into its own ``Abort`` (and a blank line on stderr).
        raise _Ending(exc) from exc
    if report is None:
        return  # not rank 0: rank 0 reports for everyone
    if output is not None:
        from mpi_lab.present.files import save

        save(report.answer.pixels, output)
        report.extra["output"] = output
    _print(report, run["as_json"])
    if done := env.read(env.DONE_FILE):
        # For supervisors (scripts/hosts): proof that rank 0 finished, since mpiexec itself can
        # exit 0 after losing a host.
        from pathlib import Path

        Path(done).touch()


def _output_check(output: str | None) -> Callable[[Any], None] | None:
    """Before the plan, on rank 0: the output file can be written (its folder, its size)."""
    if output is None:
        return None

    def check(job: Any) -> None:
        from mpi_lab.present.files import check_output_path

        # The .npy file: the int32 pixels and a short header.
        nbytes = job.params["height"] * job.params["width"] * 4 + 128 \
            if output.endswith(".npy") else None
        check_output_path(output, nbytes)

    return check


def _importable_here() -> None:
    """Under ``mpiexec`` the current folder is on ``sys.path`` as for ``python -m``, so that
    a workload module beside the user imports on every rank (``-m`` does it already)."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _failed(exc: LabError | RunEnded, run: dict[str, Any]) -> None:
    """What a failed or ended run prints besides its error line (by rank 0 alone under MPI):
    the worker's traceback if asked for, and with ``--json`` one object saying what ended it,
    whatever the exit code (a deadline's 124 and a signal's 130 too)."""
    from mpi_lab.cluster.detect import env_rank

    if env_rank() != 0:
        return
    remote = getattr(exc, "remote_traceback", "")
    if run["show_traceback"] and remote:
        click.echo(f"Traceback where it failed:\n{remote.rstrip()}", err=True)
    if run["as_json"]:
        import json

        message = exc.line if isinstance(exc, RunEnded) else str(exc)
        click.echo(json.dumps({"error": message.removeprefix("Error: "),
                               "exit_code": exc.exit_code, "traceback": remote or None}))


def _print(report: Any, as_json: bool) -> None:
    if as_json:
        import json

        click.echo(json.dumps(report.to_dict()))
    else:
        from mpi_lab.present.text import report_lines

        click.echo("\n".join(report_lines(report)))


def _error(message: str, agreed: bool) -> None:
    """Print an error once.

    Under MPI, an error every rank shares is printed by rank 0 only, and the other ranks wait
    for it: the launcher ends the whole job as soon as the first rank exits non-zero, which
    could otherwise be before rank 0 has printed.
    """
    from mpi_lab.cluster import detect
    from mpi_lab.mpi import comm

    if not (agreed and (comm.active() or detect.launched())):
        click.echo(f"Error: {message}", err=True)
        return
    world = comm.world()
    if world.Get_rank() == ROOT:
        click.echo(f"Error: {message}", err=True)
        sys.stderr.flush()
    world.Barrier()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error ends as one line on stderr and an exit code (README: 0, 1, 2,
    124 for the deadline, 128 + N for signal N)."""
    from mpi_lab.endings.interrupts import signals_end_the_run
    from mpi_lab.mpi.exits import finish

    _Ended.last = False
    try:
        with signals_end_the_run():
            cli.main(args=argv, prog_name="mpi_lab", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        # Parsing happens before MPI starts, identically on every rank.
        _error(exc.format_message(), agreed=True)
        return exc.exit_code
    except LabError as exc:
        # Errors raised before MPI starts are the same on every rank, hence agreed as well.
        from mpi_lab.mpi import comm

        agreed = exc.agreed or not comm.active()
        _error(str(exc), agreed)
        return finish(exc.exit_code, agreed)
    except click.Abort as exc:
        if isinstance(exc.__cause__, RunEnded):  # click turns a KeyboardInterrupt into Abort
            return _ended(exc.__cause__)
        click.echo("Aborted.", err=True)
        return finish(INTERRUPTED_EXIT, agreed=False)
    except _Ending as ending:
        return _ended(ending.ended)
    except RunEnded as ended:
        return _ended(ended)
    return 0


class _Ending(BaseException):
    """A run's ending on its way through click to ``main``."""

    def __init__(self, ended: RunEnded) -> None:
        super().__init__(ended)
        self.ended = ended


def _ended(ended: RunEnded) -> int:
    """A run stopped by a signal or its deadline: one line, by rank 0, and its exit code."""
    from mpi_lab.cluster.detect import env_rank

    # Under MPI every rank ends by itself (the launcher's signal reaches them all, each has
    # the same deadline), and the launcher ends any that would not: no MPI_Abort, and rank 0
    # alone speaks.
    _Ended.last = True
    if env_rank() == ROOT:
        click.echo(ended.line, err=True)
    return ended.exit_code


class _Ended:
    last = False  # whether the last ``main`` call ended early


def run_ended() -> bool:
    """The last ``main`` call ended early (a signal, the deadline): leave without waiting for
    MPI_Finalize or worker threads, which may never return."""
    return _Ended.last


if __name__ == "__main__":
    sys.exit(main())
