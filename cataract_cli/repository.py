"""`cataract export` and `cataract rollback`: what the model repository serves."""

from __future__ import annotations

from cataract_cli.commands import add_command
from cataract_cli.options import ExportSettings, RepositorySettings, RollbackSettings, RunFolder


def add_commands(commands) -> None:
    add_command(
        commands, "export", run_export, [RunFolder, RepositorySettings, ExportSettings],
        help="write a trained run into a Triton model repository",
        description=(
            "Write the run's best model as a TensorFlow SavedModel (standard ops only) into "
            "REPOSITORY/NAME/<version>/model.savedmodel, check it against the Flax model, choose the CPU "
            "serving precision, and write every config.pbtxt (embedded and GPU flavours), labels and the "
            "decision threshold. Each export adds a version; the newest is served. A run that did not "
            "learn (its validation ROC AUC not shown to beat chance) is refused unless --allow-unproven."
        ),
    )
    add_command(
        commands, "rollback", run_rollback, [RepositorySettings, RollbackSettings],
        help="serve an earlier exported version again (or the newest again)",
        description=(
            "Rewrite the repository's configs so that Triton serves classifier version N (pinned, with N's "
            "own threshold and model card), or the newest version with --latest. No version is deleted. "
            "A server polling the repository (`cataract serve`, the Kubernetes deployment) switches without a "
            "failed request once N is loaded; the next `cataract export` serves its new version and ends the pin."
        ),
    )


def run_export(run: RunFolder, repository: RepositorySettings, settings: ExportSettings) -> int:
    from train_jax.export.export import export

    result = export(run.run, repository.repository, version=settings.version, cpu_precision=settings.cpu_precision,
                    allow_unproven=settings.allow_unproven)
    card = result.card
    print(f"exported version {result.version} to {result.version_dir}")
    print(f"decision threshold {card.decision_threshold:.3f} | validation accuracy {card.validation.accuracy:.3f} "
          f"| CPU precision {card.cpu_precision} | Flax parity {card.parity_max_probability_gap:.1e}")
    return 0


def run_rollback(repository: RepositorySettings, target: RollbackSettings) -> int:
    from train_jax.export.rollback import rollback

    result = rollback(repository.repository, None if target.latest else target.to)
    how = "pinned" if result.pinned else "the newest, not pinned"
    print(f"{repository.repository}: serving version {result.version} ({how}); decision threshold "
          f"{result.card.decision_threshold:.3f}, exported {result.card.exported_at}")
    return 0
