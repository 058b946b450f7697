"""The data checks training and evaluation rely on: copies of one photo as groups,
copies shared by train and test (leakage), and copies labelled both ways (conflicts)."""

from __future__ import annotations

import dataclasses
from collections import Counter


from cataract_contract import CLASS_NAMES
from train_jax.data.grouping import Grouping, duplicate_groups
from train_jax.data.scan import ScannedImage, with_label
from train_jax.data.workers import default_workers


def copy_groups(scanned: list[ScannedImage], workers: int | None = None, progress: bool = False) -> Grouping:
    """Exact and near copies of one photo share a group id (Grouping.ids)."""
    return duplicate_groups(
        [image.content_hash for image in scanned],
        [image.thumbnail for image in scanned],
        [image.features for image in scanned],
        workers=default_workers() if workers is None else workers,
        progress=progress,
    )


@dataclasses.dataclass(frozen=True)
class Member:
    split: str
    label: str
    path: str
    mirrored: bool = False  # faces the other way from the group's first member


@dataclasses.dataclass(frozen=True)
class CopyGroup:
    """Photos that are one photo: byte-identical (`exact`) or near copies."""

    members: tuple[Member, ...]
    exact: bool

    @property
    def mirrored(self) -> bool:
        return any(m.mirrored for m in self.members)

    @property
    def splits(self) -> set[str]:
        return {m.split for m in self.members}

    @property
    def labels(self) -> set[str]:
        return {m.label for m in self.members}


def find_copy_groups(images: list[tuple[str, ScannedImage]], workers: int | None = None,
                     progress: bool = False) -> list[CopyGroup]:
    """Groups of two or more copies among (split, scanned photo) pairs, largest first."""
    grouping = copy_groups([image for _, image in images], workers, progress)
    by_group: dict[int, list[int]] = {}
    for index, group in enumerate(grouping.ids):
        by_group.setdefault(int(group), []).append(index)
    groups = []
    for indices in by_group.values():
        if len(indices) < 2:
            continue
        members = tuple(
            Member(images[i][0], CLASS_NAMES[images[i][1].record.label], images[i][1].record.path, bool(grouping.mirrored[i]))
            for i in indices
        )
        exact = len({images[i][1].content_hash for i in indices}) == 1
        groups.append(CopyGroup(members, exact))
    return sorted(groups, key=lambda g: (-len(g.members), g.members[0].path))


def leaked_test_paths(groups: list[CopyGroup]) -> list[str]:
    """Test photos that are copies of a training photo."""
    return sorted(m.path for g in groups if {"train", "test"} <= g.splits for m in g.members if m.split == "test")


LABEL_CONFLICT_POLICIES = ("drop", "majority")


@dataclasses.dataclass(frozen=True)
class TrainingDataCheck:
    usable: list[ScannedImage]  # training photos after the label-conflict policy
    dropped: list[str]  # photos removed because their copies carry the other label
    relabelled: list[tuple[str, str]]  # (photo, label it now carries)
    leaked_test: list[str]  # test photos that are copies of training photos


def check_training_data(train: list[ScannedImage], test: list[ScannedImage], label_conflicts: str = "drop") -> TrainingDataCheck:
    """Apply the label-conflict policy to the training photos and find test leakage.

    Policy "drop" (default) removes every training copy of a photo labelled both ways:
    nobody knows its true label. "majority" keeps the label most of its copies carry
    (and drops the group when the vote ties).
    """
    if label_conflicts not in LABEL_CONFLICT_POLICIES:
        raise ValueError(f"label_conflicts must be one of {LABEL_CONFLICT_POLICIES}")
    groups = find_copy_groups([("train", image) for image in train] + [("test", image) for image in test])
    by_path = {image.record.path: image for image in train}
    dropped: list[str] = []
    relabelled: list[tuple[str, str]] = []
    for group in groups:
        members = [m for m in group.members if m.split == "train"]
        votes = Counter(m.label for m in members).most_common()
        if len(votes) < 2:
            continue
        if label_conflicts == "majority" and votes[0][1] > votes[1][1]:
            winner = CLASS_NAMES.index(votes[0][0])
            for m in members:
                if m.label != votes[0][0]:
                    by_path[m.path] = with_label(by_path[m.path], winner)
                    relabelled.append((m.path, votes[0][0]))
        else:
            dropped.extend(m.path for m in members)
    usable = [by_path[image.record.path] for image in train if image.record.path not in set(dropped)]
    return TrainingDataCheck(usable, sorted(dropped), relabelled, leaked_test_paths(groups))
