"""Data parallelism: a 1-D mesh over devices, batches split along it, parameters replicated.

`DataParallel.global_mesh` spans every process's devices (one process on one machine is
the common case of it): each process hands over only its own rows of a batch, and the
gradient all-reduce follows from the shardings. `DataParallel.local_mesh` spans this
process's devices only, for work every process does whole (validation, the feature cache).
"""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from train_jax.errors import UserError


class DataParallel:
    def __init__(self, batch_size: int, devices: Sequence[jax.Device], processes: int = 1):
        if batch_size % len(devices):
            raise UserError(f"--batch-size {batch_size} does not split evenly over {len(devices)} devices")
        self.batch_size = batch_size
        self.device_count = len(devices)
        self.processes = processes
        self.mesh = Mesh(np.array(devices), ("data",))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.batch = NamedSharding(self.mesh, PartitionSpec("data"))

    @classmethod
    def global_mesh(cls, batch_size: int) -> "DataParallel":
        return cls(batch_size, jax.devices(), jax.process_count())

    @classmethod
    def local_mesh(cls, batch_size: int) -> "DataParallel":
        return cls(batch_size, jax.local_devices())

    @property
    def rows_per_process(self) -> int:
        """The rows of each batch that this process reads and hands over."""
        return self.batch_size // self.processes

    def replicate(self, tree):
        """Every leaf on every device of the mesh (from host values, local or global arrays)."""

        def place(leaf):
            if isinstance(leaf, jax.Array) and leaf.sharding == self.replicated:
                return leaf
            if self.processes > 1:  # devices of other processes are reached through the host
                leaf = np.asarray(local_values(leaf))
            return jax.device_put(leaf, self.replicated)

        return jax.tree.map(place, local_values(tree) if self.processes == 1 else tree)

    def abstract(self, tree):
        """Shapes, dtypes and the replicated sharding: what a checkpoint restores into."""
        return jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=self.replicated), tree)

    def shard(self, rows: np.ndarray) -> jax.Array:
        """This process's rows of a batch -> the global batch, split over the mesh."""
        if self.processes == 1:
            return jax.device_put(rows, self.batch)
        return jax.make_array_from_process_local_data(self.batch, rows, (self.batch_size, *rows.shape[1:]))


def local_values(tree):
    """Arrays replicated over several processes as this process's copy of them: a
    process can only hand its own devices' data to local computations."""

    def local(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            return leaf.addressable_data(0)
        return leaf

    return jax.tree.map(local, tree)


def host_value(array: jax.Array) -> np.ndarray:
    """A replicated device value on the host (its local copy, even across processes)."""
    return np.asarray(local_values(array))
