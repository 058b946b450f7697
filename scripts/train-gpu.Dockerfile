# The training image for GPU machines (deploy/kubernetes/training/train-job.yaml):
# the project with JAX for NVIDIA GPUs. Build from the repository root:
#   docker build -f scripts/train-gpu.Dockerfile -t registry.example.com/cataract-train:latest .
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cataract_contract ./cataract_contract
COPY train_jax ./train_jax
COPY serving ./serving
COPY client ./client
COPY dashboards ./dashboards
COPY model_repository ./model_repository
RUN pip install --no-cache-dir ".[cuda]"
ENTRYPOINT []
