"""`cataract train` and `cataract evaluate`: a run folder from photos, and its figures on
held-out photos."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from cataract_cli.commands import Overridable, add_command
from cataract_cli.options import EvaluateSettings, ResumeSettings, RunFolder
from train_jax.recipes import recipe_help, recipe_settings
from train_jax.training.config import ClusterConfig, TrainConfig


def recipe_start(given: dict[str, Any]) -> dict[str, Any]:
    """The settings of the recipe --recipe names, if it names one: the flags given override them."""
    return recipe_settings(given["recipe"]) if given.get("recipe") else {}


# `cataract train`'s settings: the defaults, then the recipe's, then the flags given. The
# recipe's name is a setting too, so RUN/config.json records it (and --resume, which reads
# the run's settings back whole, applies no recipe again).
TRAIN_SETTINGS = Overridable(TrainConfig, recipe_start)


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
            "OUT/checkpoints; the decision threshold chosen on the validation split when training finishes.\n"
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
            "Apply the decision threshold the run chose on its VALIDATION predictions (Youden's J), and "
            "report accuracy, precision, recall, specificity, F1, ROC AUC and the confusion matrix on "
            "the held-out photos in --data; writes RUN/metrics.json and PNG plots."
        ),
    )


def run_train(config: TrainConfig, resume: ResumeSettings, cluster: ClusterConfig) -> int:
    from train_jax.training import distributed
    from train_jax.training.trainer import train

    distributed.initialize(cluster)
    if not distributed.is_writer():  # one voice: process 0 logs for the job
        logging.getLogger().setLevel(logging.WARNING)
    paths = train(config, resume=resume.resume)
    if distributed.is_writer():
        print(f"run written to {paths.root} (next: cataract evaluate --run {paths.root} --data DATA/test)")
    return 0


def run_evaluate(run: RunFolder, settings: EvaluateSettings) -> int:
    from train_jax.evaluation.evaluate import evaluate, summary_lines

    report = evaluate(run.run, settings.data, batch_size=settings.batch_size)
    print("\n".join(summary_lines(report)))
    return 0
