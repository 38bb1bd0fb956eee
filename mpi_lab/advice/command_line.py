"""The ``advise`` click command; the CLI registers it with the API function it calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

HELP = """Measure workload SPEC briefly and advise a parallel model: backend, workers,
ranks and schedule, with the reason in a line and the predicted seconds of the best few.

SPEC is what 'run' takes: pi, fractal, a module, MODULE:NAME, PATH.py[:NAME].

\b
What is measured (at most 10 % of the predicted serial time, or 5 s, whichever is less;
each step shown on stderr, figures it had no time for are assumed and listed):
  - one item's compute time: the mean of up to 32 items spread over the plan, run here
    serially with the workload's kernel, and their spread (uneven items)
  - the sizes of an item and a result, and the time to pickle and unpickle both
  - whether 2 threads run 2 items in parallel (the kernel releases the GIL, or the
    build is free-threaded), and whether the kernel runs in a subinterpreter
  - each available backend's start-up: create a pool of W workers, close it
  - with --ranks, mpiexec's start-up of that many ranks

\b
What the model assumes (docs/advice.md has each term):
  seconds = launch of the ranks + pool start-up
          + items per rank x (item time / effective parallelism
                              + hand-off and pickling cost for workers across a
                                process or interpreter boundary)
          + imbalance (a pool's last round; across ranks, the largest share's excess
                       for block and cyclic, half a chunk for dynamic)
  Processes and subinterpreters run W items at once (at most the cores); threads
  1 + (W - 1) x the parallel fraction measured with 2 threads.

\b
Examples:
  python -m mpi_lab advise examples.primes
  python -m mpi_lab advise fractal --param height=1000 --param width=750 --json
  python -m mpi_lab advise examples.primes --ranks 2 --verify
"""


def build(advise: Callable[..., Any]) -> click.Command:
    """The command, calling ``advise`` (``mpi_lab.advise``)."""

    @click.command("advise", help=HELP)
    @click.argument("spec")
    @click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
                  help="A parameter for the workload's plan(); repeat for more (as for 'run').")
    @click.option("--ranks", type=click.IntRange(min=1), default=None,
                  help="Also predict this many MPI ranks (each with its own pool).")
    @click.option("--json", "as_json", is_flag=True,
                  help="Print one JSON object: recommendation, predictions, calibration"
                  " (and verified).")
    @click.option("--verify", is_flag=True,
                  help="Run the recommendation and the next two best, and show predicted"
                  " against measured seconds.")
    def command(spec: str, params: tuple[str, ...], ranks: int | None, as_json: bool,
                verify: bool) -> None:
        import sys

        from mpi_lab.core.errors import LabError
        from mpi_lab.workloads.contract import parse_params

        def show(line: str) -> None:
            click.echo(line, err=True)
            sys.stderr.flush()

        try:
            advice = advise(spec, params=parse_params(params), ranks=ranks, verify=verify,
                            show=show)
        except LabError as exc:
            if as_json:
                import json

                click.echo(json.dumps({"error": str(exc), "exit_code": exc.exit_code,
                                       "traceback": None}))
            raise
        if as_json:
            import json

            click.echo(json.dumps(advice.to_dict()))
        else:
            click.echo("\n".join(advice.lines()))

    return command
