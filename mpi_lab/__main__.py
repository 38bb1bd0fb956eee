"""``python -m mpi_lab``: the CLI, with MPI's all-ranks failure guarantee when launched by MPI."""

import sys

from mpi_lab.cli import main
from mpi_lab.mpi.guard import guarded

if __name__ == "__main__":
    sys.exit(guarded(main))
