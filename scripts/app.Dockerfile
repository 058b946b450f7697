# The image of the dashboard and the gateway (deploy/kubernetes/serving): the client side
# only, no JAX or TensorFlow. Build from the repository root, tagged with the project's
# version (the manifests name that tag, never :latest):
#   docker build -f scripts/app.Dockerfile -t registry.example.com/cataract-app:0.1.0 .
FROM python:3.11.7-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
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
# versions the tests ran with (Pillow decodes every photo: the one the decoder was tested with).
RUN pip install --no-cache-dir --no-deps . && \
    pip install --no-cache-dir "tritonclient[grpc,http]==2.73.0" "numpy==2.4.6" "pillow==13.0.0" "tqdm==4.70.1" \
        "panel==1.9.4" "panel-material-ui==0.16.6" "param==2.4.2" "pandas==3.1.1" \
        "fastapi==0.165.0" "uvicorn==0.54.0" "python-multipart==0.0.34"
# Not root; the manifests run it with a read-only root and HOME in an emptyDir.
USER 1000:1000
ENTRYPOINT []
