"""Picks one prediction and says why in a line; the advice as text and as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mpi_lab import backends
from mpi_lab.advice.calibrate import Calibration, kind
from mpi_lab.advice.model import Prediction
from mpi_lab.local.jobs import Job

CLOSE = 0.03  # predictions this close to the fastest are a tie: the simpler one is advised
SHOWN = 6  # predictions in the text table


@dataclass
class Advice:
    """The recommendation (a prediction and its reason), every prediction, what was
    measured, and, if asked for, predicted against measured seconds of the best few."""

    workload: str
    recommendation: Prediction
    reason: str
    predictions: list[Prediction]
    calibration: Calibration
    verified: list[dict[str, Any]] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return self.recommendation.backend

    def to_dict(self) -> dict[str, Any]:
        found = {
            "workload": self.workload,
            "recommendation": {**self.recommendation.to_dict(), "reason": self.reason},
            "predictions": [p.to_dict() for p in self.predictions],
            "calibration": self.calibration.to_dict(),
        }
        if self.verified:
            found["verified"] = self.verified
        return found

    def lines(self) -> list[str]:
        """The text report: the recommendation first, then the best few predictions."""
        best = self.recommendation
        header = (f"{'backend':<17}{'workers':>8}{'ranks':>6}  {'schedule':<9}{'seconds':>9}"
                  "   startup  compute  transfer  imbalance")
        out = [f"advice: {_point(best)} ({best.seconds:.3g} s predicted): {self.reason}", "",
               header]
        for p in self.predictions[:SHOWN]:
            t = p.terms
            out.append(f"{p.backend:<17}{p.workers:>8}{p.ranks:>6}  {p.schedule:<9}"
                       f"{p.seconds:>9.3g}   {t['startup'] + t['launch']:>7.3g}"
                       f"  {t['compute']:>7.3g}  {t['transfer']:>8.3g}  {t['imbalance']:>9.3g}")
        cal = self.calibration
        out.append("")
        out.append(f"calibration: {cal.seconds:.3g} s of a {cal.budget:.3g} s budget;"
                   f" {cal.items} items of {cal.item_seconds * 1e3:.3g} ms"
                   f" (spread {cal.spread:.2g}), threads {1 + cal.thread_parallel:.2g}x on 2,"
                   f" GIL {'on' if cal.gil else 'off'}")
        if cal.unavailable:
            out.append("not considered: " + "; ".join(f"{name}: {why}" for name, why
                                                      in cal.unavailable.items()))
        if self.verified:
            out.append("")
            out.append(f"{'verified':<40}{'predicted':>10}{'measured':>10}{'ratio':>7}")
            for row in self.verified:
                point = _point_of(row)
                if row.get("error"):
                    out.append(f"{point:<40}{row['predicted_seconds']:>10.3g}  {row['error']}")
                else:
                    out.append(f"{point:<40}{row['predicted_seconds']:>10.3g}"
                               f"{row['measured_seconds']:>10.3g}{row['ratio']:>7.2f}")
        return out


def _point(p: Prediction) -> str:
    return _point_of({"backend": p.backend, "workers": p.workers, "ranks": p.ranks,
                      "schedule": p.schedule})


def _point_of(row: dict[str, Any]) -> str:
    text = f"{row['backend']} x{row['workers']}"
    if row["ranks"] > 1:
        text += f" on {row['ranks']} ranks, {row['schedule']}"
    return text


def _simplicity(p: Prediction) -> tuple[int, int, int]:
    """Fewer ranks, then the registry's order (serial first), then fewer workers."""
    return (p.ranks, backends.NAMES.index(p.backend), p.workers)


def choose(job: Job, calibration: Calibration, predictions: list[Prediction]) -> Advice:
    """The fastest prediction, or a simpler one within ``CLOSE`` of it, and why."""
    fastest = predictions[0].seconds
    close = [p for p in predictions if p.seconds <= fastest * (1 + CLOSE)]
    best = min(close, key=_simplicity)
    ordered = [best, *(p for p in predictions if p is not best)]
    return Advice(job.name, best, reason(best, calibration, ordered), ordered, calibration)


def _duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def reason(best: Prediction, calibration: Calibration, predictions: list[Prediction]) -> str:
    """Why ``best``, in a line: what about the kernel, its items and this machine decides."""
    item = calibration.item_seconds
    sending = calibration.pickle_seconds + calibration.per_item.get("process-pool", 0.0)
    big = calibration.result_bytes >= 1 << 20
    how = kind(best.backend)
    gil_note = ("the build runs Python threads in parallel" if not calibration.gil else
                "the kernel releases the GIL" if calibration.thread_parallel >= 0.5 else
                "the kernel holds the GIL")
    if how == "serial" or (best.workers == 1 and best.ranks == 1):
        parallel = [p for p in predictions if p.workers > 1 or p.ranks > 1]
        if calibration.cores < 2:
            why = "one core: nothing to run in parallel"
        elif big and calibration.thread_parallel < 0.5:
            why = (f"results are large ({calibration.result_bytes / 2**20:.3g} MiB each) and"
                   f" {gil_note}: sending them costs more than parallel workers save")
        elif parallel and parallel[0].terms["startup"] >= best.seconds * 0.3:
            why = (f"the whole plan takes {_duration(best.seconds)}: starting a pool"
                   f" ({_duration(parallel[0].terms['startup'])}) costs more than it saves")
        else:
            why = f"{gil_note}, and no parallel model gains here"
    elif how == "in_process":
        why = f"{gil_note}"
        if big:
            why += f", results are large ({calibration.result_bytes / 2**20:.3g} MiB each)"
        elif calibration.pickle_seconds > 0.05 * item:
            why += ", items are costly to send"
    else:
        place = "processes" if how == "processes" else "subinterpreters (a GIL each)"
        threads = 1 + calibration.thread_parallel
        lead = (f"{gil_note}: {place} run it in parallel" if calibration.thread_parallel < 0.5
                else f"2 threads run it only {threads:.2g}x as fast: {place} do better")
        why = (f"{lead}, items are cheap to send"
               f" ({_duration(sending)} against {_duration(item)} of compute)")
    if best.ranks > 1:
        why += (f"; {best.schedule} schedule across ranks"
                + (f": item times spread ({calibration.spread:.2g})"
                   if best.schedule == "dynamic" else ""))
    return f"{best.backend}: {why}"
