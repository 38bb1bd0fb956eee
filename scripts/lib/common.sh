# Shared by the scripts: where things are, and how to run MPI jobs here. Source it.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${VENV:-$root/.venv}

# Export what Open MPI needs here beyond the environment's own parameter files: root's two
# variables, and the machine's settings where setup could not write them (a system MPI).
# The rules live in mpi_lab/cluster/launcher.py and mpi_lab/cluster/mca.py.
mpi_env() {
  eval "$("$venv/bin/python" -m mpi_lab.cluster.launcher env)"
}

# Print a command, then run it.
show() {
  printf '\n$ %s\n' "$*"
  "$@"
}
