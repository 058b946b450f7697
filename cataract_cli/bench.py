"""`cataract bench KIND`: the benchmarks (benchmarks/), which print figures; they are not
tests. Each kind is declared by its settings (benchmarks/configs.py) and takes --json-out."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Callable

from benchmarks.configs import (
    AuditBenchConfig,
    GradabilityBenchConfig,
    InferenceBenchConfig,
    InputBenchConfig,
    OverloadBenchConfig,
    ServeBenchConfig,
    SoakBenchConfig,
    TrainBenchConfig,
)
from benchmarks.negatives import UNSEEN_KINDS
from benchmarks.recipe import RecipeBenchConfig
from cataract_cli.commands import add_command
from cataract_cli.options import JsonOutput, RepositorySettings


def add_commands(commands) -> None:
    parser = commands.add_parser(
        "bench", help="benchmarks that print figures",
        description="Benchmarks that print figures (they are not tests).",
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    add_command(
        kinds, "train", configured("benchmarks.training", "run_training_benchmark"), [TrainBenchConfig, JsonOutput],
        help="training throughput and model FLOP utilisation (and Keras fit on CPU)",
        description=(
            "Training throughput (images/s) and model FLOP utilisation of the trainer's step on this machine's "
            "devices: every layer trainable, and the earlier project's recipe phase by phase; FLOPs from XLA's "
            "cost analysis, peak from a measured matrix product (and the data sheet where known). On CPU also "
            "Keras fit and the recipe end to end. With --end-to-end --data DIR instead: each recipe phase and the "
            "all-layers step fed from the photos through the training input pipeline (augmentation on the "
            "devices), beside the same step fed photos already on the device, their ratio, and the share of the "
            "time the host loop waited for its next batch."
        ),
    )
    add_command(
        kinds, "input", configured("benchmarks.input_pipeline", "run_input_benchmark"), [InputBenchConfig, JsonOutput],
        help="the training input pipeline alone: decode, resize, augment (images/s)",
        description="Images/s of the training input pipeline (grain: read, decode, resize, fresh augmentation, "
                    "batch) on a photo folder, for each number of worker processes; no device involved.",
    )
    add_command(
        kinds, "infer", configured("benchmarks.inference", "run_inference_benchmark"), [InferenceBenchConfig, JsonOutput],
        help="the Flax model's forward pass per batch size: the ceiling for serving",
        description="Images/s of the Flax VGG16 forward pass on this machine's first device, for each batch size, "
                    "photos already on the device: the ceiling a served flavour should approach.",
    )
    add_command(
        kinds, "recipe", configured("benchmarks.recipe", "run_recipe_benchmark", passed=operator.itemgetter("all_reached")),
        [RecipeBenchConfig, JsonOutput],
        help="does a training recipe learn, seed after seed: held-out ROC AUC per seed",
        description=(
            "Train the recipe once per seed (each on its own `cataract synth --n N --seed S` photos, or on --data) "
            "and score it on photos no choice saw: the synthetic set's test/, or a fixed grouped fold of --data. "
            "Prints each seed's validation and held-out AUC, then the held-out AUC's mean, spread and minimum. "
            "Exit code 1 if any seed's held-out AUC is below --min-auc."
        ),
    )
    add_command(
        kinds, "gradability",
        configured("benchmarks.gradability", "run_gradability_benchmark", passed=operator.itemgetter("all_met")),
        [GradabilityBenchConfig, JsonOutput],
        help="does the run's gradability gate refuse non-eye, dark, blurred and tiny pictures, and pass clean eyes",
        description=(
            "Draw negative sets (noise and textures, documents, scenes, fundus-like images, objects, screenshots, "
            "radiographs, charts, blank surfaces, sketches, ECG printouts, microscope slides, skin close-ups, "
            "street maps, food plates, leaf close-ups, fabric patterns, abstract paintings, eye photos darkened, "
            "dimmed, brightened, blurred, streaked or shrunk; and kinds used in no choice of the gate, reported apart "
            "as unseen: "
            f"{', '.join(UNSEEN_KINDS[:-1])} and {UNSEEN_KINDS[-1]}), decode and resize each as a served photo, "
            "and judge them with RUN's gate. Prints per kind the photos, the share refused and the reasons, the "
            "false-refusal rate on the run's validation photos and issue 20's goals; --cost also times the "
            "exported classifier without and with the gate. Exit code 1 if a goal is missed."
        ),
    )
    add_command(
        kinds, "serve", run_bench_serve, [RepositorySettings, ServeBenchConfig, JsonOutput],
        help="serving throughput and latency: Triton against in-process and a FastAPI baseline",
        description=(
            "Start the embedded Triton on REPOSITORY and drive the `cataract` ensemble with tritonclient's asyncio "
            "gRPC client at each concurrency for --seconds; then time the same SavedModel in-process (batch 1 "
            "and 8) and a FastAPI server built the earlier project's way. Prints photos/s, p50/p95/p99 latency, "
            "errors and resident memory. Loopback only."
        ),
    )
    add_command(
        kinds, "soak", run_bench_soak, [RepositorySettings, SoakBenchConfig],
        help="hold a constant load on the embedded server and watch for failures and memory growth",
        description=(
            "Start the embedded Triton on REPOSITORY (loopback only) and keep --concurrency requests to the "
            "`cataract` ensemble in flight for --seconds after a warm-up; report requests sent, answered, failed "
            "and lost, p99 latency and the server's resident memory after warm-up and at the end. Exit code 1 "
            "if any request was not answered (failed, refused as busy, or lost), or memory grew more than "
            "--max-memory-growth."
        ),
    )
    add_command(
        kinds, "audit", configured("benchmarks.audit", "run_audit_benchmark"), [AuditBenchConfig, JsonOutput],
        help="copy detection on N synthetic photos with planted copies: photos/s per stage, recall, precision",
        description=(
            "Draw N synthetic eye photos with planted copies (exact, resized and re-encoded, cropped, brighter, "
            "recoloured, rotated, mirrored, mirrored and cropped) and look-alikes that are not copies; audit them "
            "from a cold feature cache and print photos/s per stage (reading and decoding, describing, candidate "
            "search, verification), the total, recall and precision per kind of copy, false groups, peak memory, "
            "and the time for --extrapolate-to photos estimated from the measured stage rates."
        ),
    )
    add_command(
        kinds, "overload", run_bench_overload, [RepositorySettings, OverloadBenchConfig],
        help="more requests than the server can take: each answered or refused as busy, none lost",
        description=(
            "Start the embedded Triton on REPOSITORY (loopback only) and keep --concurrency requests to the `cataract` "
            "ensemble in flight for --seconds, more than its queues hold. Every request must be answered or refused "
            "at once as busy (the models' queue policy), none lost; readiness is checked every 0.5 s. Prints requests "
            "sent, answered, refused busy, failed and lost, the answered requests' p50/p99/max latency and the "
            "readiness checks. Exit code 1 if any request failed or was lost, or the server was ever not ready."
        ),
    )


def configured(module: str, function: str, passed: Callable[[dict], bool] = lambda report: True) -> Callable[..., int]:
    """The handler of a benchmark that takes its settings object: module.function(config),
    its figures written where --json-out says, exit code 1 unless `passed(figures)`; the
    module is imported only when it runs."""
    def run(config, output: JsonOutput) -> int:
        import importlib

        report = getattr(importlib.import_module(module), function)(config)
        output.write(report)
        return 0 if passed(report) else 1

    return run


def run_bench_serve(repository: RepositorySettings, config: ServeBenchConfig, output: JsonOutput) -> int:
    from benchmarks.serving import run_serving_benchmark

    output.write(run_serving_benchmark(Path(repository.repository), Path(config.photos), config.levels, config.seconds,
                                       config.skip_reference))
    return 0


def run_bench_soak(repository: RepositorySettings, config: SoakBenchConfig) -> int:
    from benchmarks.soak import run_soak

    report = run_soak(Path(repository.repository), Path(config.photos), config.concurrency, config.seconds)
    return 0 if report.healthy_requests and report.memory_growth <= config.max_memory_growth else 1


def run_bench_overload(repository: RepositorySettings, config: OverloadBenchConfig) -> int:
    from benchmarks.overload import run_overload

    report = run_overload(Path(repository.repository), Path(config.photos), config.concurrency, config.seconds,
                          config.busy_pause)
    return 0 if report.healthy else 1
