"""Export refuses a run that did not learn, unless told to export it anyway (and then the
model card says so); a run whose verdict was lost is judged again from its validation
scores, and one with nothing to judge it by did not finish and is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cataract_contract import CLASSIFIER, ModelCard
from tests.helpers import tiny_config
from train_jax.errors import UserError
from train_jax.export.export import check_verdict, export
from train_jax.training.run_folder import RunPaths
from train_jax.training.verdict import Verdict, read_verdict, stored_verdict, write_verdict

DID_NOT_LEARN = Verdict(learned=False, roc_auc=0.52, roc_auc_interval=(0.41, 0.63), validation_count=15)
LEARNED = Verdict(learned=True, roc_auc=0.93, roc_auc_interval=(0.88, 0.97), validation_count=15)


def refusal(run: Path, verdict: Verdict) -> str:
    return f"{run} did not learn ({verdict.figures}, {verdict.reason}): not exported; pass --allow-unproven to export it anyway"


def exports_only_with_the_flag(run: Path, repository: Path) -> ModelCard:
    """Export refuses `run` (one line, nothing written), then takes it with the flag."""
    with pytest.raises(UserError) as refused:
        export(run, repository, cpu_precision="float32")
    assert str(refused.value) == refusal(run, read_verdict(RunPaths(run)))
    assert not (repository / CLASSIFIER).exists()
    exported = export(run, repository, cpu_precision="float32", allow_unproven=True)
    card = ModelCard.read(exported.version_dir)
    assert card == exported.card and card.learned is False and card.exported_unproven is True
    return card


def test_the_guard_lets_a_learned_run_through_and_refuses_one_it_cannot_judge_even_with_the_flag(tmp_path):
    check_verdict(tmp_path, LEARNED, allow_unproven=False)
    for allow_unproven in (False, True):  # export needs the missing scores itself: no flag helps
        with pytest.raises(UserError) as refused:
            check_verdict(tmp_path, None, allow_unproven=allow_unproven)
        assert str(refused.value) == (f"{tmp_path} cannot be judged (neither a verdict in RUN/metrics.json nor the "
                                      "validation scores (RUN/val_predictions.csv) to judge it by): the run did not "
                                      "finish training, or its files were lost; train it again, or "
                                      f"`cataract train --out {tmp_path} --resume`")
    with pytest.raises(UserError) as refused:
        check_verdict(tmp_path, DID_NOT_LEARN, allow_unproven=False)
    assert str(refused.value) == (f"{tmp_path} did not learn (validation ROC AUC 0.520 [0.410, 0.630], its 95% interval "
                                  "reaches 0.5): not exported; pass --allow-unproven to export it anyway")
    check_verdict(tmp_path, DID_NOT_LEARN, allow_unproven=True)


def test_a_lost_verdict_is_judged_again_from_the_validation_scores_and_never_stored_by_evaluate(
        tiny_run, synthetic_photos, tmp_path):
    """Deleting RUN/metrics.json (or the verdict in it) must not open a way past the guard;
    evaluate keeps only training's own verdict, since a stored one tells resume the run
    finished."""
    from train_jax.evaluation.evaluate import evaluate

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    paths = RunPaths(run)
    trained = read_verdict(paths)
    paths.evaluation.unlink()
    assert read_verdict(paths) == trained  # the same scores, the same verdict
    evaluate(run, synthetic_photos / "test")
    assert "verdict" not in json.loads(paths.evaluation.read_text()) and stored_verdict(paths) is None
    assert read_verdict(paths) == trained
    paths.validation_predictions.unlink()
    assert read_verdict(paths) is None
    with pytest.raises(UserError, match="cannot be judged .* the run did not finish training"):
        export(run, tmp_path / "repository", cpu_precision="float32", allow_unproven=True)
    assert not (tmp_path / "repository").exists()  # refused before the repository is made


def test_a_run_judged_not_to_have_learned_exports_only_with_the_flag(tiny_run, tmp_path):
    # The tiny run's folder with a verdict written into it, whatever training said.
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    write_verdict(RunPaths(run), DID_NOT_LEARN)
    exports_only_with_the_flag(run, tmp_path / "repository")


def shuffled_labels(photos: Path, copy: Path, seed: int = 0) -> Path:
    """A copy of a photo set whose training photos sit in class folders drawn at random
    (the class counts kept): labels a model can learn nothing from."""
    shutil.copytree(photos / "test", copy / "test")
    train = sorted((photos / "train").rglob("*.jpg"))
    labels = [path.parent.name for path in train]
    for path, label in zip(train, np.random.default_rng(seed).permutation(labels)):
        (copy / "train" / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy / "train" / label / path.name)
    return copy


@pytest.mark.slow
def test_a_run_trained_on_shuffled_labels_did_not_learn_and_exports_only_with_the_flag(synthetic_photos, tmp_path):
    from train_jax.training.trainer import train

    photos = shuffled_labels(synthetic_photos, tmp_path / "shuffled")
    paths = train(tiny_config(photos, tmp_path / "run", epochs=1))
    verdict = read_verdict(paths)
    assert verdict is not None, "the run has no verdict in RUN/metrics.json"
    assert not verdict.learned
    exports_only_with_the_flag(paths.root, tmp_path / "repository")
