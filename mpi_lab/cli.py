"""The command line: parse, call the library, print. No computation here."""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from mpi_lab import backends
from mpi_lab.advice import command_line as advice_command
from mpi_lab.core.errors import INTERRUPTED_EXIT, ConfigError, LabError, RunEnded
from mpi_lab.core.protocol import ROOT
from mpi_lab.endings.interrupts import signals_end_the_run
from mpi_lab.mpi import comm, schedules
from mpi_lab.mpi.abort_rule import finish
from mpi_lab.workloads import BUILTIN

if TYPE_CHECKING:
    from mpi_lab.workloads.param import Param

OUTPUT = click.Path(dir_okay=False)  # --output FILE


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
        from mpi_lab import options  # not loaded by --help

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
            " processes [default: this Python's own (forkserver on 3.14+, fork on Linux"
            " before; `info` names it), but never fork inside an MPI rank].",
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
        click.option(
            "--explain", is_flag=True,
            help="Also say where the run's time went: start-up (workers started and"
            " stopped), plan, sending (items out), compute (kernels), waiting (workers and"
            " ranks idle at the end: imbalance), receiving (results back, gathered), combine,"
            " other (not measured); per rank under MPI. Averaged over the workers: the parts"
            " add up to the wall time. With --json: its 'explain' object.",
        ),
        click.option(
            "--timeline", type=Checked("timeline_path", "FILE.png|FILE.json"), default=None,
            help="Draw each worker of each rank as a lane and each item as a bar from its"
            " start to its end (PNG, needs matplotlib), or write them as a Chrome trace (JSON:"
            " open it in https://ui.perfetto.dev or chrome://tracing).",
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


class WorkloadCommand(click.Command):
    """The command of a built-in workload: its first options are the parameters the workload
    declares (and ``--output`` if it has a ``save`` hook), made when first asked for, so that
    ``mpi_lab --help`` loads no workload. The callback gets them as one dict, ``params``."""

    def __init__(self, *args: Any, workload: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workload = workload
        self.declared: list[str] | None = None  # their names, once their options are made

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if self.declared is None:
            # The contract's loader and the workload's module: not for mpi_lab --help.
            from mpi_lab.workloads.contract import load

            workload = load(self.workload)
            made = [_declared_option(param) for param in workload.parameters]
            if workload.save is not None:
                made.append(click.Option(["--output"], type=OUTPUT,
                                         help=_output_help(workload.save)))
            self.params[:0] = made
            self.declared = [param.name for param in workload.parameters]
        return super().get_params(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        ctx.params["params"] = {name: ctx.params.pop(name) for name in self.declared or ()}
        return super().invoke(ctx)


def _declared_option(param: Param) -> click.Option:
    """A declared parameter as an option: ``block_size`` is ``--block-size``, its type the
    default's (or its choices), its default shown."""
    kind = click.Choice(param.choices) if param.choices else param.kind
    return click.Option([f"--{param.name.replace('_', '-')}", param.name], type=kind,
                        default=param.default, show_default=True, help=param.help)


def _output_help(save: Any) -> str:
    """``--output``'s help: the first line of the ``save`` hook's docstring."""
    summary = (getattr(save, "__doc__", None) or "Save the answer to FILE.").strip()
    return summary.splitlines()[0].rstrip(".") + ", written atomically."


@cli.command(cls=WorkloadCommand, workload="pi")
@common_options
def pi(params: dict[str, Any], **run: Any) -> None:
    """Estimate π by Monte Carlo (pure Python, as in the seed)."""
    _run("pi", params, run)


@cli.command(cls=WorkloadCommand, workload="fractal")
@common_options
def fractal(params: dict[str, Any], **run: Any) -> None:
    """Compute the seed's Mandelbrot fractal (NumPy)."""
    _run("fractal", params, run)


@cli.command(context_settings={"show_default": True})
@click.argument("spec")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter for the workload's plan(); repeat for more. VALUE is a Python"
              " literal where it parses (10, 2.5, [1, 2], 'a b'), else a string.")
@click.option("--output", type=OUTPUT, default=None,
              help="Save the answer to FILE by the workload's save hook, written atomically.")
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

    docs/workloads.md tells the optional hooks (NumPy, result layout, how to show the
    answer, its parameters, how to save it with --output).
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
              help="Write results.json, results.csv, results.md, speedup.png, the breakdown"
              " pictures (breakdown*.png) and each point's timeline (timelines/) here.")
@click.option("--workloads", callback=_name_list(tuple(BUILTIN)), default=None,
              help=f"Comma-separated subset of: {', '.join(BUILTIN)}.")
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
@click.option("--kernels", "kernels_text", default=None, metavar="NAMES",
              help="Kernels of the built-ins to measure, e.g. python,numpy,compiled: each its"
              " own rows (pi[compiled]), against serial with the same kernel [default: each"
              " workload's own].")
def bench(quick: bool, out: str | None, workloads: Any, spec: str | None,
          params: tuple[str, ...], backend_names: Any, workers_text: str | None,
          ranks_text: str | None, repeats: int | None, kernels_text: str | None) -> None:
    """Measure every model: time, speed-up and efficiency against serial, per point.

    Each point runs in a fresh process (under mpiexec for several ranks), repeated, median
    kept; each answer is checked against serial's. Backends that cannot run the workload
    are listed as skipped, with the reason.

    \b
    Examples:
      python -m mpi_lab bench --quick
      python -m mpi_lab bench --workload examples.primes --param limit=500000 --ranks 2
      python -m mpi_lab bench --kernels python,numpy,compiled --backends serial,thread-pool
    """
    # subprocess, statistics, csv and the workloads' loader: not for --help.
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
        from mpi_lab.workloads.contract import parse_params  # the contract: not for --help

        # A bad spec or parameter fails before any point is measured: here, or as the run
        # starts (bench.why_unfit plans it). No parameters: those the workload declares.
        plans = parse_params(params) if params else lab_bench.sizes(spec, quick)
        changes["workloads"], changes["plans"] = (spec,), {spec: plans}
    if backend_names:
        changes["backends"] = backend_names
    if workers_text:
        changes["workers"] = _int_list(workers_text)
    if ranks_text:
        changes["ranks"] = _int_list(ranks_text)
    if repeats:
        changes["repeats"] = repeats
    settings = dataclasses.replace(settings, **changes)
    if kernels_text:
        if spec:
            raise click.UsageError("--kernels applies to the built-ins; give your workload's"
                                   " kernel with --param")
        try:
            settings = settings.with_kernels([k.strip() for k in kernels_text.split(",")])
        except ValueError as exc:
            raise click.UsageError(f"--kernels: {exc}") from None

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
        from pathlib import Path  # not for --help

        for path in lab_bench.write(report, Path(out)):
            click.echo(f"wrote {path}")


def _advise(*args: Any, **kwargs: Any) -> Any:
    from mpi_lab import advise  # the API; calibration and model load on use

    return advise(*args, **kwargs)


cli.add_command(advice_command.build(_advise))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def info(as_json: bool) -> None:
    """Show the Python build, GIL, MPI library and which backends run here (and why not)."""
    from mpi_lab import info as lab_info  # platform and the MPI probe: not for --help
    from mpi_lab.present.text import info_lines  # with the Report class: not for --help

    details = lab_info.collect()
    if as_json:
        _echo_json(details)
    else:
        click.echo("\n".join(info_lines(details)))


def _run(spec: str, params: dict[str, Any] | tuple[str, ...], run: dict[str, Any]) -> None:
    """Run a workload as the options say (saving its answer if ``run`` has an ``output``) and
    print its report; however it ends, also what ``--traceback`` and ``--json`` ask for.
    ``params``: a dict, or ``KEY=VALUE`` strings."""
    # The run frame (backends, coordinator, progress), the contract, the options and how
    # the process was launched: none of them loaded by --help.
    from mpi_lab import frame, options
    from mpi_lab.cluster import detect
    from mpi_lab.local.jobs import Job
    from mpi_lab.workloads.contract import parse_params

    try:
        settings = options.RunOptions(**{name: run[name] for name in options.FIELDS})
        if isinstance(params, tuple):
            params = parse_params(params)
        if detect.use_mpi(settings.mpi):
            _importable_here()
        job = Job.of(spec, params)
        report = frame.run(job, settings, output=run.get("output"))
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
    _print(report, run["as_json"])
    from mpi_lab.core import env  # here: --help need not find it (benchmarks/lazy_imports.py)

    if done := env.read(env.DONE_FILE):
        # For supervisors (scripts/hosts): proof that rank 0 finished, since mpiexec itself can
        # exit 0 after losing a host.
        from pathlib import Path  # only under such a supervisor

        Path(done).touch()


def _importable_here() -> None:
    """Under ``mpiexec`` the current folder is on ``sys.path`` as for ``python -m``, so that
    a workload module beside the user imports on every rank (``-m`` does it already)."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _failed(exc: LabError | RunEnded, run: dict[str, Any]) -> None:
    """What a failed or ended run prints besides its error line (by rank 0 alone under MPI):
    the worker's traceback if asked for, and with ``--json`` one object saying what ended it,
    whatever the exit code (a deadline's 124 and a signal's 130 too)."""
    from mpi_lab.cluster import detect  # not loaded by --help

    if detect.env_rank() != 0:
        return
    remote = getattr(exc, "remote_traceback", "")
    if run["show_traceback"] and remote:
        click.echo(f"Traceback where it failed:\n{remote.rstrip()}", err=True)
    measured = getattr(exc, "explain", None)  # --explain: what rank 0 measured until then
    if run["as_json"]:
        message = exc.line if isinstance(exc, RunEnded) else str(exc)
        _echo_json({"error": message.removeprefix("Error: "), "exit_code": exc.exit_code,
                    "traceback": remote or None,
                    **({"explain": measured} if measured is not None else {})})
    elif measured is not None:
        from mpi_lab.present.breakdown import breakdown_text

        if run["explain"]:
            click.echo(f"until it ended, {breakdown_text(measured)}", err=True)
        if measured.get("timeline"):
            click.echo(f"timeline until it ended saved to {measured['timeline']}", err=True)
        elif measured.get("timeline_error"):
            click.echo(f"timeline not saved: {measured['timeline_error']}", err=True)


def _print(report: Any, as_json: bool) -> None:
    if as_json:
        _echo_json(report.to_dict())
    else:
        from mpi_lab.present.text import report_lines  # with the Report class: not for --help

        click.echo("\n".join(report_lines(report)))


def _echo_json(fields: dict[str, Any]) -> None:
    """One JSON object, on one line."""
    import json  # only for --json

    click.echo(json.dumps(fields))


def _error(message: str, agreed: bool) -> None:
    """Print an error once.

    Under MPI, an error every rank shares is printed by rank 0 only, and the other ranks wait
    for it: the launcher ends the whole job as soon as the first rank exits non-zero, which
    could otherwise be before rank 0 has printed.
    """
    from mpi_lab.cluster import detect  # not loaded by --help

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
    from mpi_lab.cluster import detect  # not loaded by --help

    # Under MPI every rank ends by itself (the launcher's signal reaches them all, each has
    # the same deadline), and the launcher ends any that would not: no MPI_Abort, and rank 0
    # alone speaks.
    _Ended.last = True
    if detect.env_rank() == ROOT:
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
