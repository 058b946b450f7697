"""`cataract train`, `cataract evaluate` and `cataract operating-point`: a run folder from
photos, its figures on held-out photos, and its decision threshold (and gradability gate)
chosen again without training."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from cataract_cli.commands import Overridable, add_command
from cataract_cli.options import EvaluateSettings, ResumeSettings, RunFolder
from train_jax.errors import UserError
from train_jax.recipes import recipe_help, recipe_settings
from train_jax.settings import check_settings, setting
from train_jax.training.config import ClusterConfig, TrainConfig
from train_jax.training.threshold import OPERATING_POINT_HELP, OperatingPoint

log = logging.getLogger(__name__)


def recipe_start(given: dict[str, Any]) -> dict[str, Any]:
    """The settings of the recipe --recipe names, if it names one: the flags given override them."""
    return recipe_settings(given["recipe"]) if given.get("recipe") else {}


# `cataract train`'s settings: the defaults, then the recipe's, then the flags given. The
# recipe's name is a setting too, so RUN/config.json records it (and --resume, which reads
# the run's settings back whole, applies no recipe again).
TRAIN_SETTINGS = Overridable(TrainConfig, recipe_start)


@dataclasses.dataclass(frozen=True)
class OperatingPointSettings:
    run: str = setting(help="run folder written by `cataract train`", positional=True, metavar="RUN")
    operating_point: str | None = setting(None, OPERATING_POINT_HELP + " (default: keep the run's threshold)",
                                          metavar="RULE")
    gate_quantile: float | None = setting(
        None, "refit the gradability gate's limits at this quantile of the training photos' measures (each check "
              "then refuses about that share of photos like them, the grey check fewer: higher is stricter)", above=0.0, below=0.5,
        metavar="Q")
    fit_gate: bool = setting(False, "fit the gradability gate of a run trained before the gate existed")
    json: bool = setting(False, "print the result as one JSON object")

    def __post_init__(self):
        check_settings(self)
        if self.operating_point is not None:
            object.__setattr__(self, "operating_point", OperatingPoint.parse(self.operating_point).text)


def add_commands(commands) -> None:
    add_command(
        commands, "train", run_train,
        [TRAIN_SETTINGS, ResumeSettings,
         ("several processes or machines (see README, Training on a cluster)", ClusterConfig)],
        help="fine-tune VGG16 on a photo folder",
        # Laid out by hand (RawDescriptionHelpFormatter), so the epilog's recipes keep one line each.
        description=(
            "Fine-tune a Flax VGG16 in two phases: the head on the frozen base, then the last block(s) as\n"
            "well at a lower rate; early stopping on a validation split carved from train/ (grouped so\n"
            "copies of one photo stay on one side); Orbax checkpoints of the latest and the best epoch in\n"
            "OUT/checkpoints; the decision threshold chosen on the validation split when training finishes,\n"
            "at --operating-point (`cataract operating-point RUN` chooses it again without training).\n"
            "\n"
            "--recipe NAME starts from that recipe's settings (train_jax/recipes/ gives each one's command,\n"
            "data and measured results); a flag given overrides that one setting. The defaults shown\n"
            "below are those without a recipe."
        ),
        epilog="recipes:\n" + recipe_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_command(
        commands, "evaluate", run_evaluate, [RunFolder, EvaluateSettings],
        help="measure a trained run on held-out photos",
        description=(
            "Apply the decision threshold the run chose on its VALIDATION predictions (RUN/threshold.json), and "
            "report accuracy, precision, recall, specificity, F1, ROC AUC and the confusion matrix on "
            "the held-out photos in --data; writes RUN/metrics.json and PNG plots."
        ),
    )
    add_command(
        commands, "operating-point", run_operating_point, [OperatingPointSettings],
        help="choose the run's decision threshold (and gradability gate) again, without training",
        description=(
            "Rewrite RUN/threshold.json at --operating-point from the run's stored validation scores "
            "(RUN/val_predictions.csv), and print the old and the new threshold with the validation "
            "sensitivity and specificity each achieves (95% Wilson intervals), and a warning when the "
            "target is out of reach. Evaluate and export read the threshold from that file. "
            "--gate-quantile makes the gradability gate stricter or looser (RUN/gradability.json); "
            "--fit-gate fits one for a run trained before the gate. Without flags: show the run's threshold."
        ),
    )


def run_train(config: TrainConfig, resume: ResumeSettings, cluster: ClusterConfig) -> int:
    from train_jax.training import distributed
    from train_jax.training.trainer import train

    distributed.initialize(cluster)
    writer = distributed.is_writer()  # asked once: the runtime is gone after shutdown
    if not writer:  # one voice: process 0 logs for the job
        logging.getLogger().setLevel(logging.WARNING)
    try:
        paths = train(config, resume=resume.resume)
    finally:
        distributed.shutdown()
    if writer:
        print(f"run written to {paths.root} (next: cataract evaluate --run {paths.root} --data DATA/test)")
    return 0


def run_evaluate(run: RunFolder, settings: EvaluateSettings) -> int:
    from train_jax.evaluation.evaluate import evaluate, summary_lines

    report = evaluate(run.run, settings.data, batch_size=settings.batch_size)
    print("\n".join(summary_lines(report)))
    return 0


def run_operating_point(settings: OperatingPointSettings) -> int:
    import numpy as np

    from cataract_contract import CATARACT
    from train_jax.training.config import write_json
    from train_jax.training.run_folder import read_predictions, read_threshold, require_run
    from train_jax.training.threshold import describe, log_threshold, threshold_record, with_achieved

    paths = require_run(settings.run)
    rewritten = settings.operating_point is not None
    try:
        stored = read_threshold(paths)
    except UserError as damaged:
        if not rewritten:
            raise
        # The threshold is chosen from the stored validation scores, not from the old file:
        # a damaged or missing one is replaced, never read.
        log.warning("%s; choosing the threshold again from the validation scores", damaged)
        stored = None
    _, labels, scores = read_predictions(paths.validation_predictions)
    is_positive, scores = np.array(labels) == CATARACT, np.array(scores)
    if rewritten and (is_positive.all() or not is_positive.any()):
        # Sensitivity or specificity would be "0 of 0": no rule can be met or checked.
        raise UserError(f"{paths.validation_predictions} holds photos of one class only: no threshold can be chosen "
                        "on it; train the run again")
    before = after = None if stored is None else with_achieved(stored, is_positive, scores)
    if rewritten:
        point = OperatingPoint.parse(settings.operating_point)
        best_epoch = stored["best_epoch"] if stored else trained_best_epoch(paths)
        after = {**(stored or {}), **threshold_record(point, is_positive, scores, best_epoch)}
        write_json(paths.threshold, after)
        log_threshold(after)
    gate = change_gate(paths.root, settings)
    if settings.json:
        print(json.dumps({"run": str(paths.root), "threshold_rewritten": rewritten,
                          "threshold": {"before": before, "after": after}, **({"gate": gate} if gate else {})}))
        return 0
    if not rewritten:
        print(f"{paths.threshold}: {describe(before)}")
    else:
        print(f"{paths.threshold} rewritten (run `cataract evaluate` again for the test figures at it)\n"
              f"  before: {'damaged or missing' if before is None else describe(before)}\n  after:  {describe(after)}")
    if after["warning"]:
        print(f"WARNING: {after['warning']}")
    if gate:
        print(gate_lines(gate))
    return 0


def trained_best_epoch(paths) -> int:
    """The run's best epoch, from its checkpoints (for a threshold file that lost it)."""
    from train_jax.training.run_folder import best_epoch_of, checkpoint_manager

    manager = checkpoint_manager(paths, read_only=True)
    try:
        return best_epoch_of(manager, paths.root)
    finally:
        manager.close()


def change_gate(run_root: Path, settings: OperatingPointSettings) -> dict[str, Any] | None:
    """Fit the run's gradability gate (--fit-gate), then refit its limits (--gate-quantile);
    the limits before and after, or None when neither was asked for."""
    if not settings.fit_gate and settings.gate_quantile is None:
        return None
    from train_jax.gradability import fit
    from train_jax.gradability.spec import GateSpec

    def limits() -> dict[str, Any] | None:
        return dataclasses.asdict(GateSpec.load(run_root).limits) if GateSpec.exists(run_root) else None

    before = limits()
    if settings.fit_gate:  # fitted again at the quantile a clinic chose before, unless told another
        fit.fit_gate_for_run(run_root, quantile=before["quantile"] if before else fit.DEFAULT_QUANTILE)
    if settings.gate_quantile is not None:
        fit.refit_limits(run_root, settings.gate_quantile)
    return {"before": before, "after": limits()}


def gate_lines(gate: dict[str, Any]) -> str:
    """The gate's limits, old -> new, one per line."""
    before, after = gate["before"] or {}, gate["after"]

    def shown(value: Any) -> str:
        return "none" if value is None else f"{value:.4g}"

    return "gradability gate limits (RUN/gradability.json):\n" + "\n".join(
        f"  {name}: {shown(before.get(name))} -> {shown(value)}" for name, value in after.items())
