# The training image for GPU machines (deploy/kubernetes/training/train-job.yaml):
# the project with JAX for NVIDIA GPUs. Build from the repository root, tagged with the
# project's version (the Job names that tag, never :latest):
#   docker build -f scripts/train-gpu.Dockerfile -t registry.example.com/cataract-train:0.1.0 .
FROM python:3.11.7-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY cataract_contract ./cataract_contract
COPY savedmodel_runner ./savedmodel_runner
COPY train_jax ./train_jax
COPY serving ./serving
COPY client ./client
COPY doors ./doors
COPY dashboards ./dashboards
COPY benchmarks ./benchmarks
COPY cataract_cli ./cataract_cli
COPY model_repository ./model_repository
# At the lock's versions (JAX's CUDA plugin follows the locked JAX).
RUN pip install --no-cache-dir -c requirements.lock ".[cuda]"
# Not root; the Job runs it with a read-only root and its caches in emptyDir volumes.
USER 1000:1000
ENTRYPOINT []
