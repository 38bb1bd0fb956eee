"""What mpi_lab sets around MPI for speed: launcher variables and TCP_NODELAY on MPI's sockets."""

from __future__ import annotations

import os
import socket

import pytest

from mpi_lab.mpi import comm, launcher


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_no_nagle_sets_nodelay_on_open_tcp_sockets_and_keeps_them_open():
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        with client, peer:
            assert _nodelay(client) == 0  # Nagle is on by default: the test can fail
            comm._no_nagle.__wrapped__()
            assert _nodelay(client) == 1
            assert _nodelay(peer) == 1
            client.sendall(b"still open")  # detached, not closed
            assert peer.recv(16) == b"still open"
            assert os.fstat(client.fileno())


OPEN_MPI_ONLY = pytest.mark.skipif(launcher.flavour() != "openmpi",
                                   reason="the variables are Open MPI's")


@OPEN_MPI_ONLY
@pytest.mark.parametrize(("rdma", "expected"), [(False, "no"), (True, None)])
def test_ucx_memory_hooks_off_only_without_rdma_devices(monkeypatch, rdma: bool,
                                                        expected: str | None):
    monkeypatch.setattr(launcher, "_has_rdma", lambda: rdma)
    env = launcher.launcher_env(2, environ={})
    assert env.get("UCX_MEM_EVENTS") == expected
    # Without RDMA devices the UCX/libfabric layers only probe and decline: ob1 is chosen.
    assert env.get("OMPI_MCA_pml") == (None if rdma else "ob1")
    assert env.get("OMPI_MCA_osc") == (None if rdma else "^ucx")
    assert env["OMPI_MCA_btl"] == "^ofi"


@OPEN_MPI_ONLY
def test_launcher_env_leaves_what_the_user_set():
    env = launcher.launcher_env(64, environ={"UCX_MEM_EVENTS": "yes", "OMPI_MCA_btl": "self,tcp"})
    assert "UCX_MEM_EVENTS" not in env
    assert "OMPI_MCA_btl" not in env
