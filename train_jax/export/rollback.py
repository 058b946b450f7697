"""`cataract rollback`: serve an earlier exported version again, or the newest again.

Versions are never deleted or rewritten: a rollback rewrites the configs only, pinning
the classifier to version N (`version_policy: specific`) with N's own model card as
the config parameters (its threshold, image size, validation figures). A server in
poll mode (`cataract serve`, the Kubernetes deployment) loads N beside the version it
serves and switches when N is ready, without a failed request; the ensemble follows,
since it asks for the classifier's served version. The next `cataract export` adds a
version above the newest and serves it, which ends the pin.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from cataract_contract import CLASSIFIER, MODEL_CARD, SAVEDMODEL_DIR, version_numbers
from train_jax.errors import UserError
from train_jax.export import repository as repo
from train_jax.export.export import config_parameters, repository_lock


@dataclasses.dataclass(frozen=True)
class RollbackResult:
    version: int
    pinned: bool  # False: the newest version is served, unpinned
    card: dict


def rollback(repository: str | Path, version: int | None) -> RollbackResult:
    """Serve `version`, or the newest with `version=None` (ending a pin)."""
    repository = Path(repository)
    model_dir = repository / CLASSIFIER
    with repository_lock(repository):
        versions = version_numbers(model_dir)
        if not versions:
            raise UserError(f"{model_dir} holds no exported version: nothing to roll back to")
        chosen = versions[-1] if version is None else version
        if chosen not in versions:
            raise UserError(f"{model_dir} has no version {chosen}: the versions are {', '.join(map(str, versions))}")
        card, parameters = read_card(model_dir / str(chosen))
        pinned = version is not None and chosen != versions[-1]
        repo.write_configs(repository, card["image_size"], parameters, chosen if pinned else None)
    return RollbackResult(chosen, pinned, card)


def read_card(version_dir: Path) -> tuple[dict, dict[str, str]]:
    """A version's model card and its config parameters, after checking the version can be
    served at all."""
    if not (version_dir / SAVEDMODEL_DIR).is_dir():
        raise UserError(f"{version_dir} has no {SAVEDMODEL_DIR}: it is not a complete export")
    try:
        card = json.loads((version_dir / MODEL_CARD).read_text())
        int(card["image_size"])
        parameters = config_parameters(card)  # every field the configs need
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{version_dir / MODEL_CARD} cannot be read or lacks a field ({exc!r}): re-export that run "
                        "instead") from None
    return card, parameters
