"""The embedded Triton's own Python environment, provisioned on first use.

The binary comes from the `nvidia-pytriton` wheel (Triton 2.51 with the python backend).
Its python backend predates numpy 2 and the SavedModel needs TensorFlow, so the server
runs in its own Python environment (numpy < 2, tensorflow-cpu, pillow), provisioned into
a folder of the product's cache root (cataract_contract.cache_root(): $CATARACT_CACHE, else
~/.cache/cataract), like the container it stands in for. The training environment never
resolves that wheel's pins.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from cataract_contract import cache_root

RUNTIME_REQUIREMENTS = (
    "nvidia-pytriton==0.7.0",
    "tensorflow-cpu==2.21.0",
    "numpy==1.26.4",  # pytriton 0.7 needs NumPy 1 (the project's own environment has NumPy 2)
    "pillow==13.0.0",  # the preprocess model's decoder: requirements.lock's (tests/deploy/test_deploy.py)
)
# The python backend stub embeds the system's libpython (e.g. Debian's libpython3.11), so the
# server environment is built on that same interpreter: extension modules of any other
# build of the same minor version can miss symbols the stub's libpython lacks.
SYSTEM_PYTHON = "/usr/bin/python3"
class ServerError(RuntimeError):
    """The server could not be provisioned, started or stopped; the message says why."""


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


def runtime_location() -> tuple[str, Runtime]:
    """The interpreter the server environment is built on, and where that environment is:
    a folder of the cache root named for the interpreter and the requirements. A link there
    is followed (a test session's cache root links the user's runtime), so provisioning,
    its lock and its clean-up act on the real folder."""
    python, version = base_python()
    digest = hashlib.sha256("\n".join((python, version, *RUNTIME_REQUIREMENTS)).encode()).hexdigest()[:12]
    return python, Runtime((cache_root() / f"triton-runtime-py{version}-{digest}").resolve(), version)


def ensure_runtime(say: Callable[[str], None] = print) -> Runtime:
    """The server's Python environment, created on first use (once per machine)."""
    python, runtime = runtime_location()
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
