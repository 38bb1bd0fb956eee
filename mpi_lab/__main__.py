"""``python -m mpi_lab``: the CLI, with MPI's all-ranks failure guarantee when launched by MPI."""

import sys

from mpi_lab.cli import main

if __name__ == "__main__":
    sys.exit(main())
