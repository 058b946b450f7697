"""Training on several machines with JAX's own distributed runtime.

Every process of the job runs the same `cataract train`; `initialize` joins them into one
JAX runtime, after which `jax.devices()` spans every process's devices and one global mesh
shards each batch over all of them (training/parallel.py). Each process reads only its own
rows of every batch (data/pipeline.py); only process 0 writes run files and logs; Orbax
saves and restores checkpoints collectively.

Where the processes come from:
- Slurm (`srun`) and Open MPI (`mpirun`): JAX reads the job's size and rank itself.
- A Kubernetes indexed Job: pass --coordinator and --num-processes; the process id is the
  pod's JOB_COMPLETION_INDEX (deploy/training/train-job.yaml).
- Anything else: --coordinator HOST:PORT --num-processes N --process-id I on every process.
"""

from __future__ import annotations

import logging
import os

import jax

from train_jax.errors import UserError
from train_jax.training.config import KUBERNETES_INDEX, ClusterConfig

log = logging.getLogger(__name__)

# Environment variables that say a scheduler started several processes (JAX's own cluster
# detection reads the rest of what it needs from the same environment).
SCHEDULER_WORLD_SIZES = {"Slurm": "SLURM_NTASKS", "Open MPI": "OMPI_COMM_WORLD_SIZE"}


def scheduler() -> str | None:
    """The scheduler that started several processes of this job, if any."""
    for name, variable in SCHEDULER_WORLD_SIZES.items():
        if int(os.environ.get(variable, "1") or 1) > 1:
            return name
    return None


def initialize(cluster: ClusterConfig) -> None:
    """Join this process to the job's other processes; a lone process needs nothing."""
    if cluster.coordinator is None:
        if cluster.num_processes not in (None, 1) or cluster.process_id is not None:
            raise UserError("--num-processes and --process-id need --coordinator HOST:PORT")
        found = scheduler()
        if found is None:
            return
        log.info("%s started this job's processes: joining them", found)
        _use_cpu_collectives()
        jax.distributed.initialize()
        return
    process_id = cluster.process_id
    if process_id is None and KUBERNETES_INDEX in os.environ:
        process_id = int(os.environ[KUBERNETES_INDEX])
    if cluster.num_processes is None or process_id is None:
        raise UserError(f"--coordinator needs --num-processes and --process-id (or ${KUBERNETES_INDEX})")
    if process_id >= cluster.num_processes:
        raise UserError(f"--process-id {process_id} must be below --num-processes {cluster.num_processes}")
    _use_cpu_collectives()
    jax.distributed.initialize(cluster.coordinator, cluster.num_processes, process_id)


def shutdown() -> None:
    """Leave the job's runtime while every process still runs: left to JAX's exit hook, a
    process that ends waits at the runtime's shutdown barrier for the others' heartbeats
    (about a minute per run of two CPU processes)."""
    if jax.distributed.is_initialized():
        jax.distributed.shutdown()


def _use_cpu_collectives() -> None:
    """CPU processes all-reduce through gloo (GPUs use NCCL whatever this says)."""
    jax.config.update("jax_cpu_collectives_implementation", "gloo")


def is_writer() -> bool:
    """Process 0 writes the run folder's files and the logs; the others compute alongside."""
    return jax.process_index() == 0
