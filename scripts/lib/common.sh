# Shared by the scripts: where things are, and how to run MPI jobs here. Source it.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${VENV:-$root/.venv}

# Export what Open MPI needs for $1 ranks on this machine (root, oversubscription, start-up);
# the rules live in mpi_lab/mpi/launcher.py.
mpi_env() {
  eval "$("$venv/bin/python" -m mpi_lab.mpi.launcher env "$1")"
}

# Print a command, then run it.
show() {
  printf '\n$ %s\n' "$*"
  "$@"
}
