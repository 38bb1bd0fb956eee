"""What mpi_lab sets around MPI for speed: launcher variables and TCP_NODELAY on MPI's sockets."""

from __future__ import annotations

import os
import socket

import pytest

from mpi_lab.cluster import launcher
from mpi_lab.mpi import comm


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
def test_launcher_env_carries_what_the_files_do_not_and_leaves_what_the_user_set(monkeypatch):
    monkeypatch.setattr(launcher.mca, "wheel_files", lambda: None)  # a system MPI
    monkeypatch.setattr(launcher.os, "geteuid", lambda: 0)
    env = launcher.launcher_env(environ={"UCX_MEM_EVENTS": "yes", "OMPI_MCA_btl": "self,tcp"})
    assert "UCX_MEM_EVENTS" not in env
    assert "OMPI_MCA_btl" not in env
    assert env["OMPI_ALLOW_RUN_AS_ROOT"] == "1"
    assert {s.env_name for s in launcher.mca.wanted()} - {"UCX_MEM_EVENTS", "OMPI_MCA_btl"} \
        <= set(env)
