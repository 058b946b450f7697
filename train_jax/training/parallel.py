"""Data parallelism: a 1-D mesh over the devices, batches split along it, parameters
replicated."""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from train_jax.errors import UserError


class DataParallel:
    def __init__(self, batch_size: int):
        devices = jax.local_devices()
        if batch_size % len(devices):
            raise UserError(
                f"--batch-size {batch_size} does not split evenly over {len(devices)} devices"
            )
        self.mesh = Mesh(np.array(devices), ("data",))
        self.device_count = len(devices)
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.batch = NamedSharding(self.mesh, PartitionSpec("data"))

    def replicate(self, tree):
        return jax.device_put(tree, self.replicated)

    def shard(self, array: np.ndarray) -> jax.Array:
        return jax.device_put(array, self.batch)
