"""A `cataract serve` killed outright (SIGKILL: the OOM killer, a crashed terminal) takes its
tritonserver with it: no orphan keeps answering on the ports (issue 22, item 15)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import REPOSITORY, free_ports
from tests.slow_model import write_slow_repository

pytestmark = pytest.mark.server


def is_running(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for a reaper has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def is_free(port: int) -> bool:
    """Whether a new server could listen on the port (as tritonserver binds: reusing the address)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until_ready(serve: subprocess.Popen, http_port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert serve.poll() is None, serve.stdout.read()
        try:
            if requests.get(f"http://127.0.0.1:{http_port}/v2/health/ready", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise AssertionError("cataract serve was not ready")


def test_a_killed_serve_leaves_no_tritonserver_behind(tmp_path):
    repository = write_slow_repository(tmp_path, instances=1)
    ports = free_ports(3)
    serve = subprocess.Popen(
        [sys.executable, "-m", "cataract_cli", "serve", "--repository", str(repository),
         *(part for flag, port in zip(("--http-port", "--grpc-port", "--metrics-port"), ports)
           for part in (flag, str(port)))],
        cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    servers: list[int] = []
    try:
        wait_until_ready(serve, ports[0])
        children = subprocess.run(["pgrep", "-P", str(serve.pid)], capture_output=True, text=True).stdout.split()
        servers = [pid for pid in map(int, children) if "tritonserver" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(servers) == 1, children
        # The server and its python stubs: its process group (`cataract serve` is not in it).
        group = [int(pid) for pid in subprocess.run(["pgrep", "-g", str(servers[0])], capture_output=True,
                                                    text=True).stdout.split()]
        assert len(group) > 1, "no backend stub found"
        serve.send_signal(signal.SIGKILL)
        serve.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (any(map(is_running, group)) or not all(map(is_free, ports))):
            time.sleep(0.1)
        assert not is_running(servers[0]), "tritonserver outlived its killed supervisor"
        assert not any(map(is_running, group)), "a backend stub outlived its server"
        assert all(map(is_free, ports)), "the killed server's ports are still taken"
    finally:
        serve.kill()
        serve.wait()
        for pid in servers:  # no orphan of a failed run, server or stub, may outlive the test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
