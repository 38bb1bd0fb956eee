"""Every ``mpiexec`` line of README and of the docs pages works as written, in the activated
environment, with only root's two variables set: the environment's own parameter files carry the
rest."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from procs import scope_env

from mpi_lab.cluster import launcher, mca

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]  # README and the pages it links to
# The user's command from the issue, typed after `source .venv/bin/activate`.
USERS_COMMAND = "mpiexec -n 8 python -m mpi_lab pi"

_SET = {f.key for f in mca.current(mca.wheel_files(), environ={})}
pytestmark = [
    pytest.mark.skipif("rmaps_default_mapping_policy" not in _SET,
                       reason="plain mpiexec -n 8 on few cores needs the Open MPI wheel's"
                       " parameter files as setup writes them on a workstation"),
    pytest.mark.timeout(300),
]


def readme_mpiexec_lines() -> list[str]:
    """Command lines in the code blocks of README and docs/ that start with ``mpiexec``,
    comments cut off."""
    lines = []
    for page in PAGES:
        in_code = False
        for line in page.read_text().splitlines():
            if line.strip().startswith("```"):
                in_code = not in_code
                continue
            command = re.sub(r"\s+#.*$", "", line.strip())
            if in_code and command.startswith("mpiexec "):
                lines.append(command)
    return lines


def test_readme_has_mpiexec_lines():
    lines = readme_mpiexec_lines()
    assert len(lines) >= 3
    assert all("python -m mpi_lab" in line for line in lines)


@pytest.mark.parametrize("command", [USERS_COMMAND, *dict.fromkeys(readme_mpiexec_lines())])
def test_mpiexec_line_works_as_written(command: str, tmp_path: Path):
    if "--hostfile hostfile" in command:
        # The README's hostfile names the user's machines; here it names this one.
        (tmp_path / "hostfile").write_text(f"{os.uname().nodename} slots=2\n")
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env={**launcher.plain_env(), **scope_env()},
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert "Error" not in done.stderr


def test_the_line_without_activation_works_as_written():
    """README's form for a user who did not activate the environment: its own programs, by
    path, with no PATH of the environment's and no MPI variable but root's two."""
    found = re.search(r"`(\.venv/bin/mpiexec [^`]+)`", README.read_text())
    assert found is not None
    env = {key: value for key, value in launcher.plain_env().items()
           if key not in ("VIRTUAL_ENV", "PATH")}
    env.update(PATH="/usr/bin:/bin", **scope_env())
    # The README's .venv, as the environment running these tests (.venv-3.14 on that Python).
    command = found.group(1).replace(".venv/", f"{os.path.relpath(sys.prefix, ROOT)}/")
    done = subprocess.run(["bash", "-c", command + " --trials 100000"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert done.stdout.startswith("pi ~ ")
