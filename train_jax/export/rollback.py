"""`cataract rollback`: serve an earlier exported version again, or the newest again.

Versions are never deleted or rewritten: a rollback rewrites the configs only, naming
version N (`version_policy: specific`, as every config does) with N's own model card as
the config parameters (its threshold, image size, validation figures). A server in
poll mode (`cataract serve`, the Kubernetes deployment) loads N beside the version it
serves and switches when N is ready, without a failed request; the ensemble follows,
since it asks for the classifier's served version. The next `cataract export` adds a
version above the newest and serves it, which ends the pin.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cataract_contract import CLASSIFIER, SAVEDMODEL_DIR, ModelCard, ModelCardError, version_numbers
from train_jax.errors import UserError
from train_jax.export import repository as repo
from train_jax.export.export import repository_lock


@dataclasses.dataclass(frozen=True)
class RollbackResult:
    version: int
    pinned: bool  # False: the newest version is served
    card: ModelCard


def rollback(repository: str | Path, version: int | None) -> RollbackResult:
    """Serve `version`, or the newest with `version=None` (ending a pin)."""
    repository = Path(repository)
    model_dir = repository / CLASSIFIER
    with repository_lock(repository, create=False):
        versions = version_numbers(model_dir)
        if not versions:
            raise UserError(f"{model_dir} holds no exported version: nothing to roll back to")
        chosen = versions[-1] if version is None else version
        if chosen not in versions:
            raise UserError(f"{model_dir} has no version {chosen}: the versions are {', '.join(map(str, versions))}")
        card = read_card(model_dir / str(chosen))
        pinned = version is not None and chosen != versions[-1]
        repo.write_configs(repository, card.image_size, card.to_parameters().to_strings(), chosen)
    return RollbackResult(chosen, pinned, card)


def read_card(version_dir: Path) -> ModelCard:
    """A version's model card, after checking the version can be served at all: a card
    that cannot be read, or lacks a field (one written before the field existed), is refused."""
    if not (version_dir / SAVEDMODEL_DIR).is_dir():
        raise UserError(f"{version_dir} has no {SAVEDMODEL_DIR}: it is not a complete export")
    try:
        return ModelCard.read(version_dir)
    except ModelCardError as exc:
        raise UserError(f"{exc}: re-export that run instead") from None
