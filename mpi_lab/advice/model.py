"""Predicts the time of the whole plan for one backend, worker count, rank count and schedule.

    seconds = launch      mpiexec starting R ranks (0 for one process)
            + startup     creating and closing the pool of W workers, as measured
            + compute     items per rank x item time / effective parallelism
            + transfer    items per rank x (hand-off + pickling + bytes through a pipe) for
                          workers across a process or interpreter boundary; plus results
                          gathered to rank 0 from the other ranks
            + imbalance   idle workers in a pool's last round; across ranks, the largest
                          share's excess (block, cyclic: item-time trend, and spread around
                          the mean item), or
                          half a chunk and one request per chunk (dynamic)

Effective parallelism: processes and subinterpreters, W (at most the cores per rank); threads,
1 + (W - 1) x the measured parallel fraction (0 under the GIL for pure Python, near 1 when the
kernel releases it, 1 on a free-threaded build), at most the cores per rank divided by the
share of an item's time on the CPU (threads that wait leave the cores to the others).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from mpi_lab import backends
from mpi_lab.advice.calibrate import DEFAULTS, Calibration, kind, worker_counts
from mpi_lab.mpi import schedules


@dataclass(frozen=True)
class Prediction:
    backend: str
    workers: int
    ranks: int
    schedule: str
    seconds: float
    terms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "workers": self.workers, "ranks": self.ranks,
                "schedule": self.schedule, "predicted_seconds": self.seconds,
                "terms": self.terms}


def predict_all(calibration: Calibration, ranks: int | None,
                default_schedule: str = schedules.DEFAULT) -> list[Prediction]:
    """Every point, fastest first: available backends x worker counts x (1 and ``ranks``)
    ranks x (for several ranks) every schedule."""
    found = []
    rank_counts = sorted({1, ranks or 1})
    for name in calibration.available:
        counts = ([1] if name == "serial" else calibration.thread_counts()
                  if kind(name) == "in_process" else worker_counts(calibration.cores))
        for workers in counts:
            for count in rank_counts:
                names = schedules.NAMES if count > 1 else (default_schedule,)
                found.extend(predict(calibration, name, workers, count, schedule)
                             for schedule in names)
    return sorted(found, key=lambda p: p.seconds)


def parallelism(calibration: Calibration, backend: str, workers: int, ranks: int) -> float:
    """How many items one rank's pool computes at once."""
    per_rank = calibration.cores / ranks
    how = kind(backend)
    if how == "serial":
        return min(1.0, per_rank)
    if how == "in_process":  # waiting threads leave the cores to others: cores / CPU share
        most = max(per_rank, 1.0) / max(calibration.cpu_share, 1e-3)
        return min(1 + (workers - 1) * calibration.thread_parallel, most)
    return max(min(float(workers), per_rank), min(1.0, per_rank))


def predict(calibration: Calibration, backend: str, workers: int, ranks: int,
            schedule: str) -> Prediction:
    """The predicted seconds of one point, and its terms (they add up to it)."""
    items, item = calibration.items, calibration.item_seconds
    share = items / ranks
    cores = parallelism(calibration, backend, workers, ranks)
    how = kind(backend)
    # Laid-out results that a backend writes into shared memory do not go through the pipe.
    placed = calibration.has_layout and backends.backend_class(backend).places_laid_out_results
    crossing = calibration.item_bytes + (0 if placed else calibration.result_bytes)
    pipe = crossing / DEFAULTS.pipe_bytes_per_second
    per_item = calibration.per_item.get(backend, 0.0)
    if how == "processes":
        per_item += calibration.pickle_seconds + pipe
    elif how == "subinterpreters":
        per_item += calibration.pickle_seconds
    transfer = share * per_item
    if ranks > 1:  # rank 0 scatters the others' items and gathers their results
        transfer += items * (ranks - 1) / ranks * (calibration.pickle_seconds + pipe)
    rounds = math.ceil(share / workers) - share / workers if workers > 1 else 0.0
    tail = rounds * item * ((cores - 1) / (workers - 1) if workers > 1 else 0.0)
    terms = {
        "launch": calibration.launch.get(ranks, _default_launch(ranks)) if ranks > 1 else 0.0,
        "startup": calibration.startup[backend].get(workers, 0.0),
        "compute": share * item / cores,
        "transfer": transfer,
        "imbalance": tail + (_among_ranks(calibration, ranks, schedule) / cores
                             if ranks > 1 else 0.0),
    }
    if ranks > 1 and schedule == "dynamic":
        chunk = schedules.chunk_size(items, ranks)
        terms["transfer"] += math.ceil(items / chunk) * DEFAULTS.request_seconds
    return Prediction(backend, workers, ranks, schedule, sum(terms.values()), terms)


def _default_launch(ranks: int) -> float:
    base, extra = DEFAULTS.launch
    return base + extra * (ranks - 1)


def _among_ranks(calibration: Calibration, ranks: int, schedule: str) -> float:
    """Item-seconds by which the slowest rank's share exceeds the mean share."""
    items, item = calibration.items, calibration.item_seconds
    if schedule == "dynamic":
        # The others finish their last chunk while one starts its own: about half a chunk.
        return schedules.chunk_size(items, ranks) * item * (1 - 1 / ranks) / 2
    slope, base = _trend(calibration)
    # Around the mean, not the line: a line through few samples explains them all.
    spread = calibration.spread * item
    shares = _shares(items, ranks, schedule)
    costs = [len(share) * base + slope * sum(share) for share in shares]
    trend = max(costs) - statistics.fmean(costs)
    # Sums of uneven items in unknown places: the largest of R is sqrt(2 ln R) deviations up.
    random_part = spread * math.sqrt(items / ranks) * math.sqrt(2 * math.log(ranks))
    return max(0.0, trend) + random_part


def _trend(calibration: Calibration) -> tuple[float, float]:
    """A line through the sampled item times by plan position: slope and intercept."""
    samples = calibration.item_samples
    if len(samples) < 2:
        return 0.0, calibration.item_seconds
    xs = [float(at) for at, _ in samples]
    ys = [seconds for _, seconds in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var \
        if var else 0.0
    return slope, mean_y - slope * mean_x


def _shares(items: int, ranks: int, schedule: str) -> list[range]:
    """Plan positions each rank gets from a static schedule."""
    if schedule == "cyclic":
        return [range(rank, items, ranks) for rank in range(ranks)]
    size, extra = divmod(items, ranks)
    shares, at = [], 0
    for rank in range(ranks):
        length = size + (rank < extra)
        shares.append(range(at, at + length))
        at += length
    return shares
