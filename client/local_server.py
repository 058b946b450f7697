"""The embedded Triton: a real `tritonserver` process on this machine, no Docker, no GPU.

The binary comes from the `nvidia-pytriton` wheel (Triton 2.51 with the python backend).
Its python backend predates numpy 2 and the SavedModel needs TensorFlow, so the server
runs in its own Python environment (numpy < 2, tensorflow-cpu, pillow), provisioned on
first use into a cache folder, like the container it stands in for. The training
environment never resolves that wheel's pins.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

RUNTIME_REQUIREMENTS = (
    "nvidia-pytriton==0.7.0",
    "tensorflow-cpu==2.21.0",
    "numpy>=1.26,<2",
    "pillow>=10,<14",
)
# The python backend stub embeds the system's libpython (e.g. Debian's libpython3.11), so the
# server environment is built on that same interpreter: extension modules of any other
# build of the same minor version can miss symbols the stub's libpython lacks.
SYSTEM_PYTHON = "/usr/bin/python3"
# Triton waits this long for backend stubs to finish on shutdown before giving up on them.
EXIT_TIMEOUT_SECONDS = 10


class ServerError(RuntimeError):
    """The server could not be provisioned, started or stopped; the message says why."""


def cache_root() -> Path:
    return Path(os.environ.get("CATARACT_CACHE", Path.home() / ".cache" / "cataract"))


@dataclasses.dataclass(frozen=True)
class Runtime:
    """A provisioned server environment."""

    root: Path
    python_version: str  # "3.11": picks the python backend stub

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        return self.root / "lib" / f"python{self.python_version}" / "site-packages"

    @property
    def pytriton(self) -> Path:
        return self.site_packages / "pytriton" / "tritonserver"

    @property
    def tritonserver(self) -> Path:
        return self.pytriton / "bin" / "tritonserver"

    @property
    def libraries(self) -> Path:
        return self.site_packages / "nvidia_pytriton.libs"

    @property
    def stub(self) -> Path:
        return self.pytriton / "python_backend_stubs" / self.python_version / "triton_python_backend_stub"

    @property
    def backends(self) -> Path:
        """A backend folder in the layout Triton expects: python/ with the backend
        library, its utilities, and the stub built for this Python version."""
        folder = self.root / "backends"
        python = folder / "python"
        if not (python / "triton_python_backend_stub").exists():
            python.mkdir(parents=True, exist_ok=True)
            for source in (
                self.pytriton / "backends" / "python" / "libtriton_python.so",
                self.pytriton / "backends" / "python" / "triton_python_backend_utils.py",
                self.stub,
            ):
                if not source.exists():
                    raise ServerError(f"the Triton runtime in {self.root} lacks {source.name}: delete the folder to re-provision it")
                target = python / source.name
                if not target.exists():
                    target.symlink_to(source)
        return folder


def base_python() -> tuple[str, str]:
    """The interpreter the server environment is built on, and its "major.minor"."""
    python = os.environ.get("CATARACT_RUNTIME_PYTHON", SYSTEM_PYTHON)
    try:
        version = subprocess.run(
            [python, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise ServerError(
            f"the Triton server environment is built on the system Python ({python}), which is missing: "
            "install python3 and python3-venv with the system package manager"
        ) from None
    return python, version


def ensure_runtime(say: Callable[[str], None] = print) -> Runtime:
    """The server's Python environment, created on first use (once per machine)."""
    python, version = base_python()
    digest = hashlib.sha256("\n".join((python, version, *RUNTIME_REQUIREMENTS)).encode()).hexdigest()[:12]
    runtime = Runtime(cache_root() / f"triton-runtime-py{version}-{digest}", version)
    ready_marker = runtime.root / ".ready"
    if ready_marker.exists():
        return runtime
    runtime.root.parent.mkdir(parents=True, exist_ok=True)
    with open(runtime.root.parent / f".{runtime.root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be provisioning the same folder
        if ready_marker.exists():
            return runtime
        say(f"provisioning the Triton server runtime in {runtime.root} (first use only; downloads ~600 MB): "
            + ", ".join(RUNTIME_REQUIREMENTS))
        shutil.rmtree(runtime.root, ignore_errors=True)
        steps = (
            [python, "-m", "venv", str(runtime.root)],
            [str(runtime.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *RUNTIME_REQUIREMENTS],
        )
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True)
            if result.returncode != 0:
                shutil.rmtree(runtime.root, ignore_errors=True)
                detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
                raise ServerError(f"provisioning the Triton runtime failed at `{' '.join(step[:4])}`: {detail[0]}")
        _check_binary(runtime)
        ready_marker.touch()
        say("Triton server runtime ready")
    return runtime


def _check_binary(runtime: Runtime) -> None:
    """The stub links against the system's libpython; say which package is missing if so."""
    for binary in (runtime.tritonserver, runtime.stub):
        result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True,
                                env={**os.environ, "LD_LIBRARY_PATH": str(runtime.libraries)})
        missing = [line.split()[0] for line in result.stdout.splitlines() if "not found" in line]
        if missing:
            raise ServerError(
                f"{binary.name} needs {', '.join(missing)}: install it with the system package manager "
                f"(e.g. apt-get install libpython{runtime.python_version})"
            )


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    repository: Path
    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    # None serves config.pbtxt; "gpu" would pick configs/gpu.pbtxt (needs the container).
    config_name: str | None = None
    log_verbose: int = 0
    model_control: str = "none"


class LocalTritonServer:
    """Start, wait for, and stop a local tritonserver and the backend stubs it spawns."""

    def __init__(self, options: ServerOptions, runtime: Runtime | None = None, log_path: Path | None = None):
        self.options = options
        self.runtime = runtime or ensure_runtime()
        self.process: subprocess.Popen | None = None
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
        )
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
            # without a state was never tried (an ensemble whose member failed).
            models = self._repository_index()
            if models:
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
        if getattr(self, "_log_file", None):
            self._log_file.close()

    def __enter__(self) -> "LocalTritonServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
