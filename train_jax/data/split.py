"""The validation split: stratified, seeded, and grouped so that copies of one photo
(exact or near) never sit on both sides."""

from __future__ import annotations

from collections import Counter

import numpy as np

from cataract_contract import CLASS_NAMES
from train_jax.data.checks import copy_groups
from train_jax.data.scan import ScannedImage
from train_jax.errors import UserError


def split_train_validation(
    scanned: list[ScannedImage], validation_fraction: float, seed: int
) -> tuple[list[ScannedImage], list[ScannedImage]]:
    """Stratified, seeded train/validation split that keeps each duplicate group
    (exact or near copies of one photo) entirely on one side.

    Groups are stratified by their majority label and drawn in a seeded order into
    validation until each class has its share.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise UserError(f"--validation-fraction must be between 0 and 1, got {validation_fraction}")
    groups = copy_groups(scanned).ids
    members: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(int(group), []).append(index)
    rng = np.random.default_rng(seed)
    validation: set[int] = set()
    for label in range(len(CLASS_NAMES)):
        class_groups = [
            group
            for group, indices in sorted(members.items())
            if Counter(scanned[i].record.label for i in indices).most_common(1)[0][0] == label
        ]
        target = round(validation_fraction * sum(len(members[g]) for g in class_groups))
        taken = 0
        for position in rng.permutation(len(class_groups)):
            if taken >= target:
                break
            group_members = members[class_groups[position]]
            validation.update(group_members)
            taken += len(group_members)
    train = [image for i, image in enumerate(scanned) if i not in validation]
    held_out = [image for i, image in enumerate(scanned) if i in validation]
    return train, held_out
