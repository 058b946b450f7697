# The image of the dashboard and the gateway (deploy/kubernetes/serving): the client side
# only, no JAX or TensorFlow. Build from the repository root, tagged with the project's
# version (the manifests name that tag, never :latest):
#   docker build -f scripts/app.Dockerfile -t registry.example.com/cataract-app:0.1.0 .
FROM python:3.11.7-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
# What `cataract` imports to start (the command imports every job's settings), and the doors.
COPY cataract_contract ./cataract_contract
COPY train_jax ./train_jax
COPY serving ./serving
COPY client ./client
COPY doors ./doors
COPY dashboards ./dashboards
COPY benchmarks ./benchmarks
COPY cataract_cli ./cataract_cli
# The package without its training dependencies, then what the two doors import, at the
# lock's versions: the ones the tests ran with (Pillow decodes every photo).
RUN pip install --no-cache-dir --no-deps . && \
    pip install --no-cache-dir -c requirements.lock "tritonclient[grpc,http]" numpy pillow tqdm \
        panel panel-material-ui param pandas fastapi uvicorn python-multipart
# Not root; the manifests run it with a read-only root and HOME in an emptyDir.
USER 1000:1000
ENTRYPOINT []
