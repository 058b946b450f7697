"""`cataract serve`: the embedded Triton on this machine, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import sys

from cataract_cli.commands import add_command
from cataract_cli.options import RepositorySettings, ServeSettings


def add_commands(commands) -> None:
    add_command(
        commands, "serve", run_serve, [RepositorySettings, ServeSettings],
        help="serve a model repository with the embedded local Triton server",
        description=(
            "Start a real tritonserver on this machine (no Docker, no GPU) serving REPOSITORY: the classifier "
            "in its python-backend flavour, the preprocess model and the `cataract` ensemble. Binds to "
            "127.0.0.1 unless --host says otherwise; no remote load/unload; the repository is polled, so new "
            "exports and rollbacks are served without a restart. Each model's queue is bounded: under overload "
            "a request is refused at once as busy. Waits until every model is ready, prints the endpoints, and "
            "stops Triton and its backend processes on Ctrl-C or SIGTERM. The first run provisions the server's "
            "own Python environment. For GPUs, use scripts/serve_gpu.sh (the official Triton container)."
        ),
    )


def interrupt_on_signal(signum, frame) -> None:
    """SIGTERM takes the same clean shutdown path as Ctrl-C."""
    raise KeyboardInterrupt


def run_serve(repository: RepositorySettings, settings: ServeSettings) -> int:
    import signal

    from serving.embedded import LocalTritonServer
    from serving.runtime import ServerError, ensure_runtime

    if settings.provision_only:
        print(f"Triton runtime ready in {ensure_runtime().root}")
        return 0
    server = LocalTritonServer(settings.server_options(repository.repository))
    print(f"starting tritonserver on {repository.repository} (log: {server.log_path})", flush=True)
    signal.signal(signal.SIGTERM, interrupt_on_signal)
    try:
        server.start(ready_timeout=settings.ready_timeout)
        for model in server.failed_models:
            version = f" (version {model['version']})" if "version" in model else ""
            reason = (model.get("reason") or "unknown reason").strip().splitlines()[0]
            print(f"cataract serve: model {model['name']}{version} failed to load: {reason}", file=sys.stderr, flush=True)
        print(f"Triton ready: HTTP {server.http_url}  gRPC {server.grpc_url}  metrics {server.metrics_url}", flush=True)
        print("serving until Ctrl-C", flush=True)
        server.process.wait()
        raise ServerError(f"tritonserver stopped unexpectedly: {server.failure_summary()}")
    except ServerError as exc:
        print(f"cataract serve: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping Triton", flush=True)
        return 0
    finally:
        server.stop()
