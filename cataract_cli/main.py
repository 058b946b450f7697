"""`cataract`: one command for the whole life cycle, a subcommand per step.

Each subcommand imports its heavy modules only when it runs, so `cataract --help` is
instant. Errors a user can fix print as one line (exit code 2); Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable

from train_jax.errors import UserError

Command = Callable[[argparse.Namespace], int]


def _quiet_frameworks() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    for noisy in ("absl", "jax._src", "orbax", "tensorflow", "h5py", "faiss"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


# -- synth ----------------------------------------------------------------------------------


def add_synth(commands) -> None:
    parser = commands.add_parser(
        "synth", help="draw synthetic eye photos in the train/test folder layout",
        description="Draw N procedural eye photos (cataract = lens opacity) into OUT/{train,test}/{cataract,normal}/.",
    )
    parser.add_argument("out", help="folder to create (must be new or empty)")
    parser.add_argument("--n", type=int, default=200, help="number of photos (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of photos in test/ (default 0.2)")
    parser.add_argument("--height", type=int, default=256, help="photo height in pixels (default 256)")
    parser.set_defaults(handler=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    from train_jax.data.synth import generate

    counts = generate(args.out, args.n, seed=args.seed, test_fraction=args.test_fraction, height=args.height)
    for split, per_class in counts.items():
        print(f"{args.out}/{split}: " + ", ".join(f"{n} {name}" for name, n in sorted(per_class.items())))
    return 0


# -- audit ----------------------------------------------------------------------------------


def add_audit(commands) -> None:
    parser = commands.add_parser(
        "audit", help="check a photo folder: counts, bad files, copies, leakage, label conflicts",
        description=(
            "Read every photo of DATA (train/ and test/ splits, or a flat folder): counts per split and class, "
            "sizes, modes and formats, unreadable files with the reason, exact and near copies of one photo as "
            "groups, copies shared by train and test (leakage) and copies labelled both ways; per class, samples "
            "with Otsu threshold masks and edge maps. Prints a summary; writes HTML and JSON on request."
        ),
    )
    parser.add_argument("data", help="dataset folder")
    parser.add_argument("--html", default=None, help="write a self-contained HTML report here")
    parser.add_argument("--json", default=None, help="write the facts as JSON here")
    parser.add_argument("--cache", default=None,
                        help="folder of the photo feature cache, kept by content hash so a re-audit only reads what is "
                             "new (default: $CATARACT_CACHE_DIR or ~/.cache/cataract-screening; about 40 KB a photo)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU core; 0: none)")
    parser.set_defaults(handler=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    from train_jax.data.audit import audit, summary_lines, write_html, write_json

    if args.workers is not None and args.workers < 0:
        raise UserError(f"--workers must be >= 0, got {args.workers}")
    report = audit(args.data, cache=args.cache, workers=args.workers)
    print("\n".join(summary_lines(report)))
    if args.json:
        write_json(report, args.json)
        print(f"written: {args.json}")
    if args.html:
        write_html(report, args.html)
        print(f"written: {args.html}")
    return 0


# -- train ----------------------------------------------------------------------------------


def add_train(commands) -> None:
    from train_jax.settings import add_arguments
    from train_jax.training.config import ClusterConfig, TrainConfig

    parser = commands.add_parser(
        "train", help="fine-tune VGG16 on a photo folder",
        description=(
            "Fine-tune a Flax VGG16 in two phases: the head on the frozen base, then the last "
            "block(s) as well at a lower rate; early stopping on a validation split carved from "
            "train/ (grouped so copies of one photo stay on one side); Orbax checkpoints of the "
            "latest and the best epoch in OUT/checkpoints; the decision threshold chosen on the "
            "validation split when training finishes."
        ),
    )
    add_arguments(parser, TrainConfig)
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run in --out from its last checkpoint")
    add_arguments(parser.add_argument_group("several processes or machines (see README, Training on a cluster)"), ClusterConfig)
    parser.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    from train_jax.settings import from_arguments
    from train_jax.training import distributed
    from train_jax.training.config import ClusterConfig, TrainConfig
    from train_jax.training.trainer import train

    config = from_arguments(TrainConfig, args)
    distributed.initialize(from_arguments(ClusterConfig, args))
    if not distributed.is_writer():  # one voice: process 0 logs for the job
        logging.getLogger().setLevel(logging.WARNING)
    paths = train(config, resume=args.resume)
    if distributed.is_writer():
        print(f"run written to {paths.root} (next: cataract evaluate --run {paths.root} --data DATA/test)")
    return 0


# -- evaluate -------------------------------------------------------------------------------


def add_evaluate(commands) -> None:
    parser = commands.add_parser(
        "evaluate", help="measure a trained run on held-out photos",
        description=(
            "Apply the decision threshold the run chose on its VALIDATION predictions (Youden's J), and "
            "report accuracy, precision, recall, specificity, F1, ROC AUC and the confusion matrix on "
            "the held-out photos in --data; writes RUN/metrics.json and PNG plots."
        ),
    )
    parser.add_argument("--run", required=True, help="run folder written by `cataract train`")
    parser.add_argument("--data", required=True, help="held-out split folder (e.g. D/test) or a dataset root with test/")
    parser.add_argument("--batch-size", type=int, default=16, help="default 16")
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from train_jax.evaluation.evaluate import evaluate, summary_lines

    report = evaluate(args.run, args.data, batch_size=args.batch_size)
    print("\n".join(summary_lines(report)))
    return 0


# -- export ---------------------------------------------------------------------------------


def add_export(commands) -> None:
    parser = commands.add_parser(
        "export", help="write a trained run into a Triton model repository",
        description=(
            "Write the run's best model as a TensorFlow SavedModel (standard ops only) into "
            "REPOSITORY/NAME/<version>/model.savedmodel, check it against the Flax model, choose the CPU "
            "serving precision, and write every config.pbtxt (embedded and GPU flavours), labels and the "
            "decision threshold. Each export adds a version; the newest is served."
        ),
    )
    parser.add_argument("--run", required=True, help="run folder written by `cataract train`")
    parser.add_argument("--repository", default="model_repository", help="model repository folder (default model_repository)")
    parser.add_argument("--version", type=int, default=None, help="version number (default: the next free one)")
    parser.add_argument(
        "--cpu-precision", choices=("auto", "float32", "bfloat16"), default="auto",
        help="precision of the embedded (CPU) server: auto serves bfloat16 where the CPU has AVX512_BF16/AMX and "
             "its decisions agree with float32 on >=99%% of the validation photos (default auto)",
    )
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from train_jax.export.export import export

    result = export(args.run, args.repository, version=args.version, cpu_precision=args.cpu_precision)
    card = result.card
    print(f"exported version {result.version} to {result.version_dir}")
    print(f"decision threshold {card['decision_threshold']:.3f} | validation accuracy {card['validation']['accuracy']:.3f} "
          f"| CPU precision {card['cpu_precision']} | Flax parity {card['parity_max_probability_gap']:.1e}")
    return 0


def add_rollback(commands) -> None:
    parser = commands.add_parser(
        "rollback", help="serve an earlier exported version again (or the newest again)",
        description=(
            "Rewrite the repository's configs so that Triton serves classifier version N (pinned, with N's "
            "own threshold and model card), or the newest version with --latest. No version is deleted. "
            "A server polling the repository (`cataract serve`, the Kubernetes deployment) switches without a "
            "failed request once N is loaded; the next `cataract export` serves its new version and ends the pin."
        ),
    )
    parser.add_argument("--repository", default="model_repository", help="model repository folder (default model_repository)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", type=int, metavar="N", help="the version to serve")
    target.add_argument("--latest", action="store_true", help="serve the newest version again")
    parser.set_defaults(handler=run_rollback)


def run_rollback(args: argparse.Namespace) -> int:
    from train_jax.export.rollback import rollback

    result = rollback(args.repository, None if args.latest else args.to)
    how = "pinned" if result.pinned else "the newest, not pinned"
    print(f"{args.repository}: serving version {result.version} ({how}); decision threshold "
          f"{result.card['decision_threshold']:.3f}, exported {result.card.get('exported_at', '?')}")
    return 0


# -- serve ----------------------------------------------------------------------------------



def add_serve(commands) -> None:
    from serving.embedded import DEFAULT_POLL_SECONDS

    parser = commands.add_parser(
        "serve", help="serve a model repository with the embedded local Triton server",
        description=(
            "Start a real tritonserver on this machine (no Docker, no GPU) serving REPOSITORY: the classifier "
            "in its python-backend flavour, the preprocess model and the `cataract` ensemble. Binds to "
            "127.0.0.1 unless --host says otherwise; no remote load/unload; the repository is polled, so new "
            "exports and rollbacks are served without a restart. Each model's queue is bounded: under overload a request is refused at once as busy. "
            "Waits until every model is ready, prints the endpoints, and stops Triton and its backend "
            "processes on Ctrl-C or SIGTERM. The first run provisions the server's own Python environment. "
            "For GPUs, use scripts/serve_gpu.sh (the official Triton container)."
        ),
    )
    parser.add_argument("--repository", default="model_repository", help="model repository (default model_repository)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; 0.0.0.0 exposes the unauthenticated API to the network)")
    parser.add_argument("--http-port", type=int, default=8000, help="default 8000")
    parser.add_argument("--grpc-port", type=int, default=8001, help="default 8001")
    parser.add_argument("--metrics-port", type=int, default=8002, help="Prometheus metrics (default 8002)")
    parser.add_argument("--log-verbose", type=int, default=0, help="Triton log verbosity (default 0)")
    parser.add_argument("--ready-timeout", type=float, default=600, help="seconds to wait for the models (default 600)")
    parser.add_argument("--poll-seconds", type=int, default=None, metavar="N",
                        help="look at the repository every N seconds and load what changed: a new `cataract export` or "
                             f"`cataract rollback` is served without a restart or a failed request (default {DEFAULT_POLL_SECONDS}; 0: only "
                             "the models found at start, until a restart; not with --allow-model-control)")
    parser.add_argument("--allow-model-control", action="store_true",
                        help="let clients load and unload models over the API (model control mode explicit). A load "
                             "request can carry a model's files, and the python backend runs a python model's code: "
                             "whoever reaches the port can run any code on this machine as this user. Refused unless "
                             "--host is a loopback address; off by default")
    parser.add_argument("--provision-only", action="store_true",
                        help="only create the server's runtime environment (first use downloads ~600 MB), then exit")
    parser.set_defaults(handler=run_serve)


def interrupt_on_signal(signum, frame) -> None:
    """SIGTERM takes the same clean shutdown path as Ctrl-C."""
    raise KeyboardInterrupt


def run_serve(args: argparse.Namespace) -> int:
    import signal
    from pathlib import Path

    from serving.embedded import DEFAULT_POLL_SECONDS, LocalTritonServer, ServerOptions
    from serving.runtime import ServerError, ensure_runtime

    if args.provision_only:
        print(f"Triton runtime ready in {ensure_runtime().root}")
        return 0
    if args.allow_model_control and args.poll_seconds:
        raise UserError("--poll-seconds cannot go with --allow-model-control: model updates then come through the API")
    poll_seconds = DEFAULT_POLL_SECONDS if args.poll_seconds is None else args.poll_seconds
    if poll_seconds < 0:
        raise UserError(f"--poll-seconds must be 0 or more, got {poll_seconds}")
    options = ServerOptions(
        repository=Path(args.repository), host=args.host, http_port=args.http_port, grpc_port=args.grpc_port,
        metrics_port=args.metrics_port, log_verbose=args.log_verbose,
        model_control="explicit" if args.allow_model_control else "poll" if poll_seconds > 0 else "none",
        poll_seconds=poll_seconds,
    )
    server = LocalTritonServer(options)
    print(f"starting tritonserver on {args.repository} (log: {server.log_path})", flush=True)
    signal.signal(signal.SIGTERM, interrupt_on_signal)
    try:
        server.start(ready_timeout=args.ready_timeout)
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


# -- predict --------------------------------------------------------------------------------


def add_predict(commands) -> None:
    parser = commands.add_parser(
        "predict", help="screen photos through a running Triton server",
        description=(
            "Send photos (files, or folders searched recursively) to the served model and print one "
            "answer per photo: a table, or with --json one JSON object per line "
            '{"file", "prediction", "confidence", "probabilities", ...}. A photo that fails is reported '
            "and the others still answered; the exit code is 0 only if every photo was answered."
        ),
    )
    parser.add_argument("images", nargs="+", help="image files or folders")
    parser.add_argument("--url", default=None, help="Triton HOST:PORT (default 127.0.0.1:8001 for grpc, :8000 for http)")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="grpc", help="default grpc")
    parser.add_argument("--transport", choices=("tensor", "bytes"), default="tensor",
                        help="tensor: resize here and send pixels to the classifier (default); "
                             "bytes: send the files to the `cataract` ensemble, decoded on the server")
    parser.add_argument("--model", default="cataract_vgg16", help="classifier model name (default cataract_vgg16)")
    parser.add_argument("--json", action="store_true", help="one JSON object per photo")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    parser.add_argument("--retries", type=int, default=3, help="retries with backoff while the server is unreachable (default 3)")
    parser.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    import json

    from client.errors import InvalidImageError, ModelNotReadyError, ServerUnavailableError
    from client.triton_client import DEFAULT_PORTS, CataractClient, sources_from_paths

    sources = sources_from_paths(args.images)
    if not sources:
        raise UserError(f"no image files in {' '.join(args.images)}")
    url = args.url or f"127.0.0.1:{DEFAULT_PORTS[args.protocol]}"
    with CataractClient(url, args.protocol, model=args.model, transport=args.transport,
                        timeout=args.timeout, retries=args.retries) as screener:
        try:
            results = screener.predict_many(sources)
        except (ServerUnavailableError, ModelNotReadyError) as exc:
            raise UserError(str(exc)) from None
    failures = 0
    if not args.json:
        print(f"{'file':50s} {'prediction':10s} {'confidence':>10s} {'P(cataract)':>11s}")
    for source, result in zip(sources, results):
        if isinstance(result, Exception):
            failures += 1
            reason = str(result).removeprefix(f"{source}: ") if isinstance(result, InvalidImageError) else str(result)
            print(json.dumps({"file": str(source), "error": reason}) if args.json else f"{str(source):50s} error: {reason}")
        elif args.json:
            print(json.dumps(result.as_json()))
        else:
            print(f"{result.source:50s} {result.label:10s} {result.confidence:9.1f}% {result.probabilities['cataract']:11.3f}")
    if failures:
        print(f"cataract predict: {failures} of {len(sources)} photos failed", file=sys.stderr)
    return 1 if failures else 0


# -- dashboard ------------------------------------------------------------------------------


def add_dashboard(commands) -> None:
    parser = commands.add_parser(
        "dashboard", help="the Panel screening dashboard in the browser",
        description=(
            "Serve the Panel dashboard: upload photos or pick samples, press Predict, see label, confidence, "
            "probability against the decision threshold and the heatmap; a results table with CSV download; "
            "a live server panel. It talks to Triton through the client library. Binds to 127.0.0.1 unless "
            "--address says otherwise."
        ),
    )
    add_triton_options(parser)
    parser.add_argument("--port", type=int, default=5006, help="default 5006")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; 0.0.0.0 lets anyone on the network screen photos)")
    parser.add_argument("--allow-websocket-origin", action="append", default=[],
                        help="extra HOST:PORT browsers may connect from (needed with --address 0.0.0.0)")
    parser.add_argument("--samples", default=None,
                        help="folder of sample photos to offer (default: demo/photos/test if present)")
    parser.add_argument("--show", action="store_true", help="open a browser")
    add_credentials_option(parser)
    parser.set_defaults(handler=run_dashboard)


def run_dashboard(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dashboards.app import serve
    from doors.access import read_credentials, require_credentials_off_loopback

    samples = args.samples
    if samples is None:
        default = Path(__file__).resolve().parent.parent / "demo" / "photos" / "test"
        samples = str(default) if default.is_dir() else None
    elif not Path(samples).is_dir():
        raise UserError(f"--samples {samples}: no such folder")
    require_credentials_off_loopback(args.address, args.credentials, "dashboard")
    if args.credentials:
        read_credentials(args.credentials)  # a broken file fails here, in one line, not at the first login
    print(f"dashboard on http://{args.address}:{args.port}/ (Triton at {args.triton_url}, {args.protocol})", flush=True)
    serve(args.triton_url, args.protocol, samples, args.port, args.address, args.show, args.allow_websocket_origin,
          credentials=args.credentials)
    return 0


def add_triton_options(parser: argparse.ArgumentParser) -> None:
    """Where the dashboard and the gateway find Triton."""
    parser.add_argument("--triton-url", default="127.0.0.1:8001", help="Triton HOST:PORT (default 127.0.0.1:8001)")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="grpc", help="default grpc")


def add_credentials_option(parser: argparse.ArgumentParser) -> None:
    """The same login for the dashboard and the gateway (doors/access.py)."""
    parser.add_argument("--credentials", default=None, metavar="FILE",
                        help="JSON file of user name -> password; every user must log in (required when binding "
                             "anything but loopback: patients' photos are never open to anonymous access)")




# -- gateway --------------------------------------------------------------------------------


def add_gateway(commands) -> None:
    parser = commands.add_parser(
        "gateway", help="the earlier project's REST API (POST /predict/) in front of Triton",
        description=(
            'Serve POST /predict/ (multipart field "file") answering {"prediction": "Cataract"|"Normal", '
            '"confidence": percent} as the earlier FastAPI app did, and GET /health; each photo goes to Triton '
            "through the asyncio client. 400 for a photo that cannot be used, 413 for a file over 20 MiB, 503 when "
            "Triton is unreachable. Binds to 127.0.0.1 unless --host says otherwise."
        ),
    )
    add_triton_options(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="default 8080")
    add_credentials_option(parser)
    parser.set_defaults(handler=run_gateway)


def run_gateway(args: argparse.Namespace) -> int:
    from doors.access import read_credentials, require_credentials_off_loopback
    from doors.gateway import serve

    require_credentials_off_loopback(args.host, args.credentials, "gateway")
    credentials = read_credentials(args.credentials) if args.credentials else None
    print(f"gateway on http://{args.host}:{args.port}/predict/ (Triton at {args.triton_url}, {args.protocol})"
          f"{'' if credentials else ', no login'}", flush=True)
    serve(args.triton_url, args.protocol, args.host, args.port, credentials)
    return 0


# -- bench ----------------------------------------------------------------------------------


def add_bench(commands) -> None:
    parser = commands.add_parser(
        "bench", help="benchmarks that print figures",
        description="Benchmarks that print figures (they are not tests).",
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    from benchmarks.configs import AuditBenchConfig, InferenceBenchConfig, InputBenchConfig, TrainBenchConfig

    add_configured_bench(
        kinds, "benchmarks.training", "run_training_benchmark", TrainBenchConfig,
        "train", help="training throughput and model FLOP utilisation (and Keras fit on CPU)",
        description=(
            "Training throughput (images/s) and model FLOP utilisation of the trainer's step on this machine's "
            "devices: every layer trainable, and the earlier project's recipe phase by phase; FLOPs from XLA's "
            "cost analysis, peak from a measured matrix product (and the data sheet where known). On CPU also "
            "Keras fit and the recipe end to end."
        ),
    )

    add_configured_bench(
        kinds, "benchmarks.input_pipeline", "run_input_benchmark", InputBenchConfig,
        "input", help="the training input pipeline alone: decode, resize, augment (images/s)",
        description="Images/s of the training input pipeline (grain: read, decode, resize, fresh augmentation, "
                    "batch) on a photo folder, for each number of worker processes; no device involved.",
    )

    add_configured_bench(
        kinds, "benchmarks.inference", "run_inference_benchmark", InferenceBenchConfig,
        "infer", help="the Flax model's forward pass per batch size: the ceiling for serving",
        description="Images/s of the Flax VGG16 forward pass on this machine's first device, for each batch size, "
                    "photos already on the device: the ceiling a served flavour should approach.",
    )

    serving = kinds.add_parser(
        "serve", help="serving throughput and latency: Triton against in-process and a FastAPI baseline",
        description=(
            "Start the embedded Triton on REPOSITORY and drive the `cataract` ensemble with tritonclient's asyncio "
            "gRPC client at each concurrency for --seconds; then time the same SavedModel in-process (batch 1 "
            "and 8) and a FastAPI server built the earlier project's way. Prints photos/s, p50/p95/p99 latency, "
            "errors and resident memory. Loopback only."
        ),
    )
    serving.add_argument("--repository", default="model_repository", help="repository with an exported version (default model_repository)")
    serving.add_argument("--photos", required=True, help="folder of photos to send (searched recursively; up to 64 used)")
    serving.add_argument("--concurrency", default="1,4,8,16", help="comma-separated levels (default 1,4,8,16)")
    serving.add_argument("--seconds", type=float, default=20.0, help="seconds per level (default 20)")
    serving.add_argument("--skip-reference", action="store_true", help="Triton and in-process figures only")
    serving.add_argument("--json", default=None, help="also write the figures to this JSON file")
    serving.set_defaults(handler=run_bench_serve)

    soak = kinds.add_parser(
        "soak", help="hold a constant load on the embedded server and watch for failures and memory growth",
        description=(
            "Start the embedded Triton on REPOSITORY (loopback only) and keep --concurrency requests to the "
            "`cataract` ensemble in flight for --seconds after a warm-up; report requests sent, answered, failed "
            "and lost, p99 latency and the server's resident memory after warm-up and at the end. Exit code 1 "
            "if any request was not answered (failed, refused as busy, or lost), or memory grew more than "
            "--max-memory-growth."
        ),
    )
    add_load_arguments(soak, concurrency=16, seconds=600)
    soak.add_argument("--max-memory-growth", type=float, default=0.10, help="allowed growth after warm-up (default 0.10)")
    soak.set_defaults(handler=run_bench_soak)

    add_configured_bench(
        kinds, "benchmarks.audit", "run_audit_benchmark", AuditBenchConfig,
        "audit", help="copy detection on N synthetic photos with planted copies: photos/s per stage, recall, precision",
        description=(
            "Draw N synthetic eye photos with planted copies (exact, resized and re-encoded, cropped, brighter, "
            "recoloured, rotated, mirrored, mirrored and cropped) and look-alikes that are not copies; audit them "
            "from a cold feature cache and print photos/s per stage (reading and decoding, describing, candidate "
            "search, verification), the total, recall and precision per kind of copy, false groups, peak memory, "
            "and the time for --extrapolate-to photos estimated from the measured stage rates."
        ),
    )

    overload = kinds.add_parser(
        "overload", help="more requests than the server can take: each answered or refused as busy, none lost",
        description=(
            "Start the embedded Triton on REPOSITORY (loopback only) and keep --concurrency requests to the `cataract` "
            "ensemble in flight for --seconds, more than its queues hold. Every request must be answered or refused "
            "at once as busy (the models' queue policy), none lost; readiness is checked every 0.5 s. Prints requests "
            "sent, answered, refused busy, failed and lost, the answered requests' p50/p99/max latency and the "
            "readiness checks. Exit code 1 if any request failed or was lost, or the server was ever not ready."
        ),
    )
    add_load_arguments(overload, concurrency=64, seconds=120)
    overload.add_argument("--busy-pause", type=float, default=0.1,
                          help="seconds a refused sender waits before its next request, like a client backing off (default 0.1)")
    overload.set_defaults(handler=run_bench_overload)


def add_load_arguments(parser: argparse.ArgumentParser, concurrency: int, seconds: float) -> None:
    """What every load on the embedded server takes: where, what, how many at once, how long."""
    parser.add_argument("--repository", default="model_repository", help="default model_repository")
    parser.add_argument("--photos", required=True, help="folder of photos to send")
    parser.add_argument("--concurrency", type=int, default=concurrency, help=f"default {concurrency}")
    parser.add_argument("--seconds", type=float, default=seconds, help=f"default {seconds:g}")


def add_configured_bench(kinds, module: str, function: str, config_class: type, name: str, **parser_options) -> None:
    """`cataract bench NAME` for a benchmark declared by a settings dataclass: its flags come
    from the dataclass, and it runs module.function(config)."""
    from train_jax.settings import add_arguments

    parser = kinds.add_parser(name, **parser_options)
    add_arguments(parser, config_class)
    parser.set_defaults(handler=configured_bench(module, function, config_class))


def configured_bench(module: str, function: str, config_class: type) -> Callable[[argparse.Namespace], int]:
    """The handler of a benchmark declared by a settings dataclass: its config built from
    the flags, then module.function(config); the module is imported only when it runs."""
    def run(args: argparse.Namespace) -> int:
        import importlib

        from train_jax.settings import from_arguments

        getattr(importlib.import_module(module), function)(from_arguments(config_class, args))
        return 0

    return run


def run_bench_serve(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from benchmarks.serving import run_serving_benchmark

    try:
        levels = [int(level) for level in args.concurrency.split(",")]
    except ValueError:
        raise UserError(f"--concurrency takes comma-separated integers, got {args.concurrency!r}") from None
    if args.seconds <= 0 or any(level < 1 for level in levels):
        raise UserError("--seconds and every concurrency level must be positive")
    report = run_serving_benchmark(Path(args.repository), Path(args.photos), levels, args.seconds, args.skip_reference)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def run_bench_overload(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmarks.overload import run_overload

    if args.seconds <= 0 or args.concurrency < 1 or args.busy_pause < 0:
        raise UserError("--seconds and --concurrency must be positive, --busy-pause not negative")
    report = run_overload(Path(args.repository), Path(args.photos), args.concurrency, args.seconds, args.busy_pause)
    return 0 if report.healthy else 1


def run_bench_soak(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmarks.soak import run_soak

    if args.seconds <= 0 or args.concurrency < 1:
        raise UserError("--seconds and --concurrency must be positive")
    report = run_soak(Path(args.repository), Path(args.photos), args.concurrency, args.seconds)
    return 0 if report.healthy_requests and report.memory_growth <= args.max_memory_growth else 1


# -- entry point ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cataract",
        description="Cataract screening on eye photos: train a JAX/Flax VGG16, evaluate it, serve it with Triton.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_audit, add_synth, add_train, add_evaluate, add_export, add_rollback, add_serve, add_predict, add_dashboard, add_gateway, add_bench):
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_frameworks()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr,
    )
    from client.errors import CataractClientError
    from cataract_contract import ImageError
    from doors.access import AccessError
    from serving.runtime import ServerError

    try:
        return args.handler(args)
    except (UserError, ImageError, CataractClientError, ServerError, AccessError) as exc:
        print(f"cataract {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cataract {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `cataract predict ... | head`: the reader left, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
