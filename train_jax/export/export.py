"""`cataract export`: a trained run -> a new version in a Triton model repository.

Writes <repository>/cataract_vgg16/<N>/model.savedmodel (standard TF ops only), with the
run's gradability gate (RUN/gradability.*, fitted when training ended) in its graph, checks
that it computes what the Flax model and the JAX gate compute, chooses the CPU serving precision by
measuring bfloat16 against float32 on the validation photos, and (re)writes every
config with the decision threshold (the one training chose, RUN/threshold.json) and the
model card of this version. The threshold also goes into the model itself: it serves
its probabilities at that operating point (cataract_contract), so the top class is the
decision at every door.

A run that did not learn (training's verdict, train_jax/training/verdict.py) is refused
unless the caller says to export it anyway; its card then says so (exported_unproven).

Never half-visible. A version is built and checked in a folder beside the repository (a
folder in it would be a model to Triton), flushed to disk, then moved into cataract_vgg16/
with one rename. The classifier's configs name the one version they serve, with that
version's parameters (version_policy specific), so the new folder is not served yet; the
switch is the rename of each flavour's config naming it, one file for the server reading
that flavour. A polling server, or one (re)started at any moment, even after a crash or a
full disk mid-export, thus serves one version with its own threshold and image size:
the old one until its config is renamed, the new one after. The preprocess model and the
ensemble depend on the image size (the ensemble also on whether the served version has the
gradability gate), and are rewritten only when that changes: being other models, they
reload on their own (model_repository/README.md, "Versions").

Versions are only ever added above the newest; the repository is locked for the whole
export, so two exports at once take turns (and distinct versions) instead of sharing a folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import logging
import platform
import shutil
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from cataract_contract import (
    CATARACT,
    CLASS_NAMES,
    CLASSIFIER,
    DECISION_RULE,
    GRADABILITY_OUTPUTS,
    MIN_PHOTO_SIDE,
    OUTPUT_GRADABLE,
    OUTPUT_HEATMAP,
    OUTPUT_PROBABILITIES,
    OUTPUT_UNGRADABLE_REASON,
    PARAMETER_IMAGE_SIZE,
    PARAMETER_MODEL_VERSION,
    POSITIVE_CLASS,
    PRECISION_CHOICES,
    SAVEDMODEL_DIR,
    SERVED_THRESHOLD,
    GateCard,
    UngradableReason,
    ModelCard,
    ServedParameters,
    ValidationFigures,
    at_operating_point,
    model_input,
    version_numbers,
)
from savedmodel_runner import SavedModelClassifier
from train_jax.errors import UserError
from train_jax.files import file_in_the_way, sync_folder, sync_tree
from train_jax.model.architecture import VGG16_BLOCKS
from train_jax.evaluation.metrics import binary_metrics
from train_jax.export import onnx_twin, savedmodel, tf_backend
from train_jax.export import repository as repo
from train_jax.export.onnx_twin import ONNX_FILE
from train_jax.export.onnx_twin import OPSET as ONNX_OPSET
from train_jax.gradability import measures
from train_jax.gradability.spec import GateSpec
from train_jax.training.predict import reference_outputs
from train_jax.training.run_folder import is_run_folder, load_run, read_predictions, read_threshold
from train_jax.training.verdict import UNJUDGED, Verdict, read_verdict

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4
BFLOAT16_MIN_AGREEMENT = 0.99
# Forbidden in the graph: ops that tie a SavedModel to one TF build or platform.
FORBIDDEN_OPS = {"XlaCallModule", "PyFunc", "EagerPyFunc"}
CONVOLUTIONS = sum(count for _, count in VGG16_BLOCKS)
# A gate decision the SavedModel and JAX may differ on: a photo whose measure lies this close
# (relative) to its limit, where float32 summation order alone can tip it either way.
GATE_MARGIN = 1e-4
PHOTO_SIDE = 480  # the decoded size the gate's probes claim, but for the one too small
LOCK_FILE = ".export.lock"  # in the repository's root; Triton only looks at folders


@dataclasses.dataclass(frozen=True)
class ExportResult:
    version: int
    version_dir: Path
    card: ModelCard


def cpu_supports_bfloat16() -> bool:
    """True where oneDNN has native bfloat16 arithmetic (AVX512_BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def export(run_dir: str | Path, repository: str | Path, version: int | None = None,
           cpu_precision: str = "auto", allow_unproven: bool = False) -> ExportResult:
    """cpu_precision: "auto" serves bfloat16 only where the CPU has it natively and its
    decisions agree with float32 on BFLOAT16_MIN_AGREEMENT of the validation photos;
    "float32" or "bfloat16" decide outright (the agreement is still measured and recorded).
    allow_unproven: export a run that did not learn instead of refusing it."""
    if cpu_precision not in PRECISION_CHOICES:
        raise UserError(f"--cpu-precision must be one of {', '.join(PRECISION_CHOICES)}, got {cpu_precision!r}")
    repository = Path(repository)
    check_repository_path(repository)  # before the run loads, not seconds later
    check_new_repository_place(repository)
    run = load_run(run_dir)
    verdict = read_verdict(run.paths)
    check_verdict(run.paths.root, verdict, allow_unproven)
    gate = GateSpec.load(run.paths.root)  # a run trained before the gate: UserError, how to fit one
    with repository_lock(repository):
        return _export_locked(run, verdict, gate, repository, version, cpu_precision)


def check_verdict(run_dir: Path, verdict: Verdict | None, allow_unproven: bool) -> None:
    """Refuse a run that did not learn, unless allowed, and one that nothing is left to judge by."""
    if verdict is None:  # export reads the missing scores too: no flag could help
        raise UserError(f"{run_dir} cannot be judged ({UNJUDGED}): the run did not finish training, or its files "
                        f"were lost; train it again, or `cataract train --out {run_dir} --resume`")
    if not verdict.learned and not allow_unproven:
        raise UserError(f"{run_dir} did not learn ({verdict.figures}, {verdict.reason}): not exported; "
                        "pass --allow-unproven to export it anyway")
    elif not verdict.learned:
        log.warning("%s did not learn (%s): exporting it anyway, as --allow-unproven says; its model card says "
                    "exported_unproven: true", run_dir, verdict.figures)


def check_repository_path(repository: Path) -> None:
    if repository.exists() and not repository.is_dir():
        raise UserError(f"--repository {repository} is a file, not a model repository folder")
    above = file_in_the_way(repository)
    if above is not None:
        raise UserError(f"--repository {repository}: {above} is a file, not a folder")


def check_new_repository_place(repository: Path) -> None:
    """Refuse to export into a training run's folder: served versions mixed into a run's
    files would go with either when the other is cleaned up."""
    folder = repository.resolve()  # through links and "..", as the files will be written
    run_above = next((above for above in (folder, *folder.parents) if is_run_folder(above)), None)
    if run_above is not None:
        raise UserError(f"--repository {repository} is inside the training run {run_above}: give a folder of its own, "
                        "e.g. model_repository")


@contextlib.contextmanager
def repository_lock(repository: Path, create: bool = True):
    """Hold the repository's export lock (waiting for another export to finish first);
    create the repository first, unless `create` is False (rollback: a mistyped path must
    not leave a folder behind)."""
    check_repository_path(repository)
    if not create and not repository.is_dir():
        raise UserError(f"--repository {repository} does not exist: export a run there first")
    repository.mkdir(parents=True, exist_ok=True)
    with open(repository / LOCK_FILE, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another export is writing to %s: waiting for it to finish", repository)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # the lock goes with the file's closing


def next_version(model_dir: Path, version: int | None) -> int:
    """The version to write: the next one by default; a chosen one only above the newest,
    so that the newest is always the latest export (what `rollback --latest` serves)."""
    existing = version_numbers(model_dir)
    newest = existing[-1] if existing else 0
    if version is None:
        return newest + 1
    if version < 1:
        raise UserError(f"--version must be a positive integer, got {version}")
    if version in existing:
        raise UserError(f"{model_dir / str(version)} already exists: versions are never overwritten")
    if version < newest:
        raise UserError(f"--version {version} is below version {newest}, which Triton serves: the shared configs would then "
                        f"describe another model than the one served; use a version above {newest} or leave --version out")
    return version


def _export_locked(run, verdict: Verdict | None, gate: GateSpec, repository: Path, version: int | None,
                   cpu_precision: str) -> ExportResult:
    model_dir = repository / CLASSIFIER
    version = next_version(model_dir, version)

    validation_files, validation_labels, validation_scores = read_predictions(run.paths.validation_predictions)
    validation_positive = np.array(validation_labels) == CATARACT
    chosen = read_threshold(run.paths)
    threshold = chosen["decision_threshold"]
    if chosen.get("warning"):
        log.warning("operating point %s: %s", chosen.get("operating_point"), chosen["warning"])
    validation_metrics = binary_metrics(validation_positive, np.array(validation_scores), threshold)
    size = run.model_config.image_size
    validation_images = np.stack([model_input(path, size) for path in validation_files])
    random_images = np.random.default_rng(0).integers(0, 256, (4, size, size, 3), dtype=np.uint8)

    staging = staging_folder(repository, version)
    try:
        saved_path = staging / SAVEDMODEL_DIR
        log.info("writing the TensorFlow SavedModel (%dx%d input)", size, size)
        savedmodel.save(run.model, saved_path, threshold, gate)  # the operating point and the gate travel in the graph
        forbidden = savedmodel.graph_op_types(saved_path) & FORBIDDEN_OPS
        if forbidden:
            raise UserError(f"the SavedModel contains {sorted(forbidden)}: it would not load in Triton's TensorFlow")

        parity_images, parity_sizes = gate_probes(np.concatenate([validation_images, random_images]))
        served, probability_gap = check_against_flax(run, saved_path, parity_images, parity_sizes, threshold)
        check_gate(run.model, gate, parity_images, parity_sizes, served)
        convolutions = check_what_tf_trt_sees(saved_path, random_images[:2])
        onnx_gap = write_onnx_twin(saved_path, staging / ONNX_FILE, parity_images, parity_sizes, served)
        precision, agreement, bf16_gap = choose_cpu_precision(
            cpu_precision, saved_path, validation_images, {name: values[: len(validation_images)] for name, values in served.items()})

        card = ModelCard(
            model=CLASSIFIER,
            version=version,
            exported_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            run=str(run.paths.root.resolve()),
            best_epoch=run.best_epoch,
            image_size=size,
            classes=CLASS_NAMES,
            positive_class=POSITIVE_CLASS,
            decision_threshold=round(threshold, 6),
            threshold_rule=chosen["rule"],
            decision_rule=DECISION_RULE,
            validation=ValidationFigures(**{k: v for k, v in dataclasses.asdict(validation_metrics).items() if k != "threshold"}),
            training_data_fingerprint=run.info["data"]["fingerprint"],
            training_counts=run.info["data"]["train"],
            validation_counts=run.info["data"]["validation"],
            weights_source=run.info["weights_source"],
            preprocessing=run.model_config.preprocessing,
            training_precision=run.model_config.compute_dtype,
            width=run.model_config.width,
            parity_max_probability_gap=probability_gap,
            onnx_opset=ONNX_OPSET,
            onnx_parity_max_probability_gap=onnx_gap,
            tf_trt_visible_convolutions=convolutions,
            cpu_precision=precision,
            cpu_bfloat16_decision_agreement=agreement,
            cpu_bfloat16_max_probability_gap=bf16_gap,
            exported_on=platform.node(),
            learned=None if verdict is None else verdict.learned,
            exported_unproven=verdict is not None and not verdict.learned,  # only past check_verdict by allow_unproven
            gradability=GateCard(limits=gate.limits, feature_blocks=tuple(gate.feature_blocks), method=gate.method,
                                 blind_spots=tuple(gate.blind_spots), validation=gate.validation),
            operating_point=chosen.get("operating_point", "youden"),
            operating_point_achieved=chosen.get("achieved"),
            operating_point_warning=chosen.get("warning"),
        )
        card.write(staging)
        repo.copy_python_model(repo.CLASSIFIER_SOURCE, staging, with_runner=True)
        version_dir = publish(repository, staging, card)
    finally:
        shutil.rmtree(staging.parent, ignore_errors=True)  # what is left of it when anything failed
    return ExportResult(version, version_dir, card)


def staging_folder(repository: Path, version: int) -> Path:
    """An empty folder to build `version` in, beside the repository, not in it: Triton takes
    every folder of the repository for a model, hidden ones too, and a folder in a model's
    changes that model at every poll. On the repository's filesystem, so that moving the
    finished version in is one rename. Left over only by a crash, and cleared by the next
    export (which holds the lock)."""
    repository = repository.resolve()
    staging_root = repository.parent / f".{repository.name}.staging"
    shutil.rmtree(staging_root, ignore_errors=True)
    staging_root.mkdir()
    if staging_root.stat().st_dev != repository.stat().st_dev:
        staging_root.rmdir()
        raise UserError(f"{repository} is a mount point: export builds a version beside it, in {staging_root}, and "
                        "moves it in with one rename, which needs one filesystem; mount the repository's parent instead")
    staging = staging_root / str(version)
    staging.mkdir(mode=0o755)  # readable by a server running as another user
    return staging


def publish(repository: Path, staging: Path, card: ModelCard) -> Path:
    """Make the finished version in `staging` the served one, so that a polling server, or
    one started at any moment (after a crash or a full disk too), serves one version with
    that version's own parameters: first the version is flushed to disk and moved into the
    classifier's folder, where no server serves it (the configs name the served version);
    then each flavour's config is renamed into place naming it, the one step that switches a
    server reading that flavour. The preprocess model and the ensemble are other models,
    reloaded on their own: their configs change only when the image size does (README)."""
    model_dir = repository / CLASSIFIER
    served = pin_served_version(model_dir)
    if served is not None and served[1] != card.image_size:
        log.warning("version %d takes %dx%d photos, the served version %d %dx%d: the preprocess model and the ensemble "
                    "switch to the new size on their own, so a polling server refuses photos at the ensemble (it never "
                    "answers them wrongly) until it has reloaded all three", card.version, card.image_size,
                    card.image_size, served[0], served[1], served[1])
    sync_tree(staging)
    version_dir = model_dir / str(card.version)
    model_dir.mkdir(parents=True, exist_ok=True)
    staging.rename(version_dir)
    sync_folder(model_dir)
    repo.crash_point(version_dir)
    repo.write_configs(repository, card.image_size, card.to_parameters().to_strings(), card.version)
    return version_dir


def pin_served_version(model_dir: Path) -> tuple[int, int] | None:
    """The version the classifier's config serves and its image size (None before the
    first export). A config written before every config named its version serves the
    newest: its configs are first rewritten to name the version their parameters describe,
    with those parameters, so that adding a version beside it does not serve that one."""
    config = model_dir / "config.pbtxt"
    if not config.is_file():
        return None
    parsed = repo.parse_config(config.read_text())
    parameters = {key: value.string_value for key, value in parsed.parameters.items()}
    image_size = ServedParameters.get(parameters, PARAMETER_IMAGE_SIZE)
    if parsed.version_policy.WhichOneof("policy_choice") == "specific":
        return max(parsed.version_policy.specific.versions), image_size
    described = int(ServedParameters.get(parameters, PARAMETER_MODEL_VERSION))
    repo.write_configs(model_dir.parent, image_size, parameters, described)
    return described, image_size


def output_gaps(outputs: dict[str, np.ndarray], probabilities: np.ndarray, heatmaps: np.ndarray) -> tuple[float, float]:
    """Largest probability difference, and largest heatmap difference relative to the
    heatmaps' scale."""
    probability_gap = float(np.abs(outputs[OUTPUT_PROBABILITIES] - probabilities).max())
    heatmap_gap = float(np.abs(outputs[OUTPUT_HEATMAP] - heatmaps).max() / max(float(np.abs(heatmaps).max()), 1e-6))
    return probability_gap, heatmap_gap


def gate_probes(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The parity photos with photos the gate must refuse after them (black, blurred, noise,
    the first photo in grey, in green, and at a decoded size too small), and each
    one's photo_size: 0, 0 (not known) for the parity photos, as a raw call sends it, a
    plausible size for the probes."""
    from PIL import Image, ImageFilter

    size = images.shape[1]
    first = Image.fromarray(images[0])
    blurred = np.asarray(first.filter(ImageFilter.GaussianBlur(size / 16)))
    noise = np.random.default_rng(1).integers(0, 256, images.shape[1:], dtype=np.uint8)
    grey = np.asarray(first.convert("L").convert("RGB"))
    # The same luminance moved into the green channel: colours no eye photo has (the colour-distribution check).
    luminance = grey[..., 0].astype(np.float32)
    green = np.stack([luminance * 0.3, np.minimum(255, luminance * 1.49), luminance * 0.3], axis=-1).astype(np.uint8)
    probes = np.stack([np.zeros_like(images[0]), blurred, noise, grey, green, images[0]])
    sizes = np.zeros((len(images) + len(probes), 2), np.int32)
    sizes[len(images):] = PHOTO_SIDE
    sizes[-1] = (MIN_PHOTO_SIDE - 1, PHOTO_SIDE)
    return np.concatenate([images, probes]), sizes


def check_against_flax(run, saved_path: Path, images: np.ndarray, photo_size: np.ndarray,
                       threshold: float) -> tuple[dict[str, np.ndarray], float]:
    """The SavedModel's answers, held to the Flax model's in float32 at the highest matmul
    precision, whatever precision the run trained in; like with like: the Flax
    probabilities shifted to the operating point of `threshold`, as the graph shifts them."""
    log.info("checking the SavedModel against the Flax model (float32, highest matmul precision; trained in %s) "
             "on %d photos", run.model_config.compute_dtype, len(images))
    flax_probabilities, expected_heatmaps = reference_outputs(run.model, images)
    expected_probabilities = at_operating_point(flax_probabilities, threshold)
    served = SavedModelClassifier(saved_path).run_batches(images, photo_size=photo_size)
    probability_gap, heatmap_gap = output_gaps(served, expected_probabilities, expected_heatmaps)
    if probability_gap > PARITY_TOLERANCE or heatmap_gap > PARITY_TOLERANCE:
        raise UserError(
            f"the SavedModel differs from the Flax model (probabilities by {probability_gap:.2e}, "
            f"heatmaps by {heatmap_gap:.2e} relative): not exported"
        )
    return served, probability_gap


def check_gate(model, gate: GateSpec, images: np.ndarray, photo_size: np.ndarray, served: dict[str, np.ndarray]) -> None:
    """The SavedModel's gate decides as the JAX gate (train_jax/gradability/measures.py)
    does, in float32, on every photo: the same gradable and reason, but where a measure
    lies within GATE_MARGIN of its limit (float32 rounding may tip those either way)."""
    reference = dataclasses.replace(model.config, compute_dtype="float32")
    float32_model = type(model)(reference, rngs=nnx.Rngs(0))
    nnx.update(float32_model, nnx.state(model, nnx.Param))
    with jax.default_matmul_precision("highest"):
        expected = measures.gate(float32_model, gate, images, photo_size)
    reasons = served[OUTPUT_UNGRADABLE_REASON].reshape(-1)
    differing = (reasons != expected["reason"]) | (served[OUTPUT_GRADABLE].reshape(-1) != expected["gradable"])
    borderline = np.zeros(len(images), bool)
    for check, limit in gate.limits.checks():
        measured = np.asarray(expected[check.measure], np.float64)
        borderline |= np.abs(measured - limit) <= GATE_MARGIN * max(abs(limit), 1.0)
    if np.any(differing & ~borderline):
        rows = np.flatnonzero(differing & ~borderline)
        raise UserError(f"the SavedModel's gradability gate differs from the JAX gate on {len(rows)} of {len(images)} photos "
                        f"(reasons {reasons[rows].tolist()}, expected {expected['reason'][rows].tolist()}): not exported")
    refused = np.bincount(reasons, minlength=len(UngradableReason))
    log.info("gradability gate: the SavedModel decides as the JAX gate on %d photos (%d at a limit); refused %s",
             len(images), int(np.sum(differing)),
             ", ".join(f"{UngradableReason(code).name.lower()} {count}" for code, count in enumerate(refused) if code and count))


def check_what_tf_trt_sees(saved_path: Path, images: np.ndarray) -> int:
    """Every convolution must reach TF-TRT: loaded and rewritten as Triton's TensorFlow
    backend does, the executed graph must hold them at its top level."""
    _, executed = tf_backend.run_as_the_backend(saved_path, images)
    visible = tf_backend.convolutions_visible(executed)
    if visible < CONVOLUTIONS:
        raise UserError(f"Triton's TensorFlow backend would show TF-TRT {visible} of the {CONVOLUTIONS} convolutions: not exported")
    return visible


def write_onnx_twin(saved_path: Path, onnx_path: Path, images: np.ndarray, photo_size: np.ndarray,
                    served: dict[str, np.ndarray]) -> float:
    """Convert the SavedModel to ONNX and hold the twin to the SavedModel's answers: its
    gate's decisions exactly."""
    log.info("converting the SavedModel to its ONNX twin (opset %d) and checking it with onnxruntime", ONNX_OPSET)
    onnx_twin.convert(saved_path, onnx_path)
    answered = onnx_twin.run(onnx_path, images, photo_size=photo_size)
    if set(answered) != set(served):
        raise UserError(f"the ONNX twin has the outputs {sorted(answered)}, the SavedModel {sorted(served)}: not exported")
    probability_gap, heatmap_gap = output_gaps(answered, served[OUTPUT_PROBABILITIES], served[OUTPUT_HEATMAP])
    if probability_gap > PARITY_TOLERANCE or heatmap_gap > PARITY_TOLERANCE:
        raise UserError(f"the ONNX twin differs from the SavedModel (probabilities by {probability_gap:.2e}, heatmaps by "
                        f"{heatmap_gap:.2e} relative): not exported")
    for name in GRADABILITY_OUTPUTS:
        if name in served and not np.array_equal(answered[name], served[name]):
            raise UserError(f"the ONNX twin's {name} differs from the SavedModel's on "
                            f"{int(np.sum(answered[name] != served[name]))} of {len(images)} photos: not exported")
    return probability_gap


def choose_cpu_precision(requested: str, saved_path: Path, validation_images: np.ndarray,
                         float32_outputs: dict[str, np.ndarray]) -> tuple[str, float | None, float | None]:
    """The embedded server's precision, the bfloat16 decisions' agreement with float32 on
    the validation photos (a decision: the label, decided at 50% since the probabilities
    are served at the operating point, and the gate's reason), and the largest probability
    gap (both None when not measured)."""
    native_bfloat16 = cpu_supports_bfloat16()
    if not (native_bfloat16 or requested == "bfloat16"):
        log.info("this CPU lacks AVX512_BF16/AMX: serving in float32")
        return "float32", None, None
    low = SavedModelClassifier(saved_path, "bfloat16").run_batches(validation_images)
    float32_probabilities = float32_outputs[OUTPUT_PROBABILITIES]
    labels_agree = (low[OUTPUT_PROBABILITIES][:, CATARACT] >= SERVED_THRESHOLD) == (float32_probabilities[:, CATARACT] >= SERVED_THRESHOLD)
    gates_agree = (low[OUTPUT_UNGRADABLE_REASON] == float32_outputs[OUTPUT_UNGRADABLE_REASON]).reshape(-1)
    agreeing = int(np.sum(labels_agree & gates_agree))
    agreement = agreeing / len(validation_images)
    gap = float(np.abs(low[OUTPUT_PROBABILITIES] - float32_probabilities).max())
    log.info("bfloat16 on CPU: labels agree with float32 on %d, the gate's decisions on %d of %d validation photos",
             int(np.sum(labels_agree)), int(np.sum(gates_agree)), len(validation_images))
    if requested == "auto":
        precision, reason = ("bfloat16" if agreement >= BFLOAT16_MIN_AGREEMENT else "float32"), f"auto needs {BFLOAT16_MIN_AGREEMENT:.0%}"
    else:
        precision, reason = requested, f"chosen by --cpu-precision {requested}"
    log.info("bfloat16 on CPU: decisions agree with float32 on %d of %d validation photos (%.2f%%; max probability "
             "gap %.4f) -> serving in %s (%s)", agreeing, len(validation_images), 100 * agreement, gap, precision, reason)
    if precision == "bfloat16" and not native_bfloat16:
        log.warning("this CPU lacks AVX512_BF16/AMX: bfloat16 will be emulated and slower than float32")
    return precision, agreement, gap

