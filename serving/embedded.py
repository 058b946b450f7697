"""The embedded Triton: a real `tritonserver` process on this machine, no Docker, no GPU,
started in its own Python environment (serving/runtime.py), waited for, and stopped with
every backend stub it spawned; they also end when their supervisor does, however it dies."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from serving.runtime import Runtime, ServerError, ensure_runtime

# Triton waits this long for backend stubs to finish on shutdown before giving up on them.
EXIT_TIMEOUT_SECONDS = 10
# Run beside the server as `python -c WATCHDOG GROUP`, its standard input a pipe that only
# the supervisor holds open: at end of file (the supervisor ended, however it died: SIGKILL,
# the OOM killer) it kills the server's process group, every backend stub included; those
# do not reliably end with their server. At once (SIGKILL), because Triton's graceful
# shutdown first waits out its repository poll, 15 s and more with its ports held; only the
# stubs' shared-memory regions then stay behind in /dev/shm. In a session of its own, so no
# signal meant for the supervisor (Ctrl-C in its terminal) reaches it. (A child the
# supervisor forks without exec holds the pipe too, and so delays this until it ends.)
WATCHDOG = """
import os, signal, sys
sys.stdin.buffer.read()
try:
    os.killpg(int(sys.argv[1]), signal.SIGKILL)
except ProcessLookupError:
    pass
"""
# How often a polling server looks at its repository: a new version is served within this.
# Not less: Triton also tries a version that failed to load again at every poll.
DEFAULT_POLL_SECONDS = 15


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    repository: Path
    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    # None serves config.pbtxt; "gpu_onnx" or "gpu_tensorflow" picks configs/<name>.pbtxt (needs a GPU container).
    config_name: str | None = None
    log_verbose: int = 0
    # "none": the models found at start; "poll": also what changes in the repository later
    # (new versions, rewritten configs), checked every poll_seconds, with no model control
    # API (Triton refuses load/unload requests in poll mode); "explicit": clients load and
    # unload models over the API.
    model_control: str = "none"
    poll_seconds: int = DEFAULT_POLL_SECONDS

    def __post_init__(self):
        if self.model_control not in ("none", "poll", "explicit"):
            raise ServerError(f"model control mode must be none, poll or explicit, not {self.model_control!r}")
        if self.model_control == "poll" and self.poll_seconds < 1:
            raise ServerError(f"the repository poll interval must be at least 1 second, got {self.poll_seconds}")
        # A load request can carry a model's files, and the python backend runs a python
        # model's code: model control open to a network is remote code execution.
        if self.model_control == "explicit" and not is_loopback(self.host):
            raise ServerError(f"model control (--allow-model-control) lets any client that reaches the server run code on "
                              f"this machine: refused with --host {self.host}; use it only with a loopback address")

    @classmethod
    def on_free_ports(cls, repository: Path, **options) -> "ServerOptions":
        """Options for a server on loopback ports nothing listens on (benchmarks, tools);
        `options`: more fields."""
        http_port, grpc_port, metrics_port = free_ports(3)
        return cls(repository, http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port, **options)


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only: binding it keeps a port off the network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports nothing listens on right now. Every socket stays
    bound until all are: one closed before the next bind could be handed out again."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class LocalTritonServer:
    """Start, wait for, and stop a local tritonserver and the backend stubs it spawns."""

    def __init__(self, options: ServerOptions, runtime: Runtime | None = None, log_path: Path | None = None):
        self.options = options
        self.runtime = runtime or ensure_runtime()
        self.process: subprocess.Popen | None = None
        self._watchdog: subprocess.Popen | None = None
        self.failed_models: list[dict] = []
        self._workspace = Path(tempfile.mkdtemp(prefix="cataract-triton-"))
        self.log_path = log_path or self._workspace / "tritonserver.log"

    @property
    def http_url(self) -> str:
        return f"{self._client_host}:{self.options.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"{self._client_host}:{self.options.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self._client_host}:{self.options.metrics_port}/metrics"

    @property
    def _client_host(self) -> str:
        return "127.0.0.1" if self.options.host in ("0.0.0.0", "::", "") else self.options.host

    def command(self) -> list[str]:
        o = self.options
        command = [
            str(self.runtime.tritonserver),
            f"--model-repository={Path(o.repository).resolve()}",
            f"--backend-directory={self.runtime.backends}",
            f"--model-control-mode={o.model_control}",
            f"--http-address={o.host}", f"--http-port={o.http_port}",
            f"--grpc-address={o.host}", f"--grpc-port={o.grpc_port}",
            f"--metrics-address={o.host}", f"--metrics-port={o.metrics_port}",
            f"--exit-timeout-secs={EXIT_TIMEOUT_SECONDS}",
            "--strict-readiness=true",
            # A model that fails to load (a corrupt version, say) must not take the others down.
            "--exit-on-error=false",
            f"--log-verbose={o.log_verbose}",
        ]
        if o.model_control == "explicit":
            command.append("--load-model=*")
        if o.model_control == "poll":
            command.append(f"--repository-poll-secs={o.poll_seconds}")
        if o.config_name:
            command.append(f"--model-config-name={o.config_name}")
        return command

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.runtime.root / 'bin'}:{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.runtime.root)
        env["LD_LIBRARY_PATH"] = ":".join(p for p in (str(self.runtime.libraries), env.get("LD_LIBRARY_PATH")) if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return env

    def start(self, ready_timeout: float = 600) -> "LocalTritonServer":
        repository = Path(self.options.repository)
        if not repository.is_dir():
            raise ServerError(f"model repository {repository} does not exist: run `cataract export` first")
        self._log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(), env=self.environment(), stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it reaches every stub
            # The python stubs put their working directory on sys.path: an empty folder, so that
            # they import the repository's own copies of the project's modules, as in the container.
            cwd=self._workspace,
        )
        self._watchdog = subprocess.Popen([sys.executable, "-I", "-S", "-c", WATCHDOG, str(self.process.pid)],
                                          stdin=subprocess.PIPE, start_new_session=True)
        self.wait_until_ready(ready_timeout)
        return self

    def wait_until_ready(self, timeout: float) -> None:
        """Wait until every model has loaded or failed to. Failures are kept in
        `failed_models` and the server keeps serving the others; it is an error only
        when no model loaded at all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(f"tritonserver exited with code {self.process.returncode}: {self.failure_summary()}")
            # With model control mode none, Triton opens its HTTP port only after every load
            # has finished: the first index it answers holds the final states. A model
            # without a state was never tried (an ensemble whose member failed). In poll mode
            # a version that failed is tried again at every poll: wait for that try's verdict.
            models = self._repository_index()
            if models and not any(m.get("state") == "LOADING" for m in models):
                self.failed_models = [
                    {"reason": "not loaded: a model it needs failed to load", **m} for m in models if m.get("state") != "READY"
                ]
                if len(self.failed_models) == len(models):
                    summary = self.failure_summary()
                    self.stop()
                    raise ServerError("no model could be loaded: " + "; ".join(
                        f"{m['name']}: {m.get('reason', 'unknown reason')}" for m in self.failed_models) + f" | {summary}")
                return
            time.sleep(0.25)
        summary = self.failure_summary()
        self.stop()
        raise ServerError(f"tritonserver was not ready after {timeout:.0f}s: {summary}")

    def _repository_index(self) -> list[dict]:
        """Triton's model repository index (name, version, state, reason), or [] while
        the HTTP endpoint is not up yet."""
        request = urllib.request.Request(f"http://{self.http_url}/v2/repository/index", data=b"{}", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return json.loads(response.read() or b"[]")
        except (urllib.error.URLError, OSError, ValueError):
            return []

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def failure_summary(self) -> str:
        """The log lines that say why models failed or the server stopped."""
        lines = self.log_text().splitlines()
        wanted = [line for line in lines if any(k in line for k in ("failed", "error", "Error", "UNAVAILABLE"))]
        return " | ".join((wanted or lines)[-6:]) or "no log output"

    def stub_pids(self) -> list[int]:
        """Backend stub processes started by this server (children in its group)."""
        if self.process is None:
            return []
        result = subprocess.run(["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in result.stdout.split() if int(pid) != self.process.pid]

    def stop(self, timeout: float = EXIT_TIMEOUT_SECONDS + 10) -> None:
        """Stop tritonserver gracefully, then make sure no process of its group survives."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGINT)
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # stubs that outlived the server
            except ProcessLookupError:
                pass
            process.wait()
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:  # killed, not told by end of file: the group's number may be reused
            watchdog.kill()
            watchdog.wait()
            watchdog.stdin.close()
        if getattr(self, "_log_file", None):
            self._log_file.close()

    def __enter__(self) -> "LocalTritonServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
