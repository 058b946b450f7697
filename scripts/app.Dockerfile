# The image of the dashboard and the gateway (deploy/kubernetes/serving): the client side
# only, no JAX or TensorFlow. Build from the repository root:
#   docker build -f scripts/app.Dockerfile -t registry.example.com/cataract-app:latest .
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cataract_contract ./cataract_contract
COPY train_jax ./train_jax
COPY serving ./serving
COPY client ./client
COPY dashboards ./dashboards
# The package without its training dependencies, then what the two doors import.
RUN pip install --no-cache-dir --no-deps . && \
    pip install --no-cache-dir "tritonclient[grpc,http]>=2.50,<3" "numpy>=1.26,<3" "pillow>=10,<13" \
        "panel>=1.5,<2" "panel-material-ui>=0.4,<1" "param>=2,<3" "pandas>=2,<4" \
        "fastapi>=0.110,<1" "uvicorn>=0.29,<1" "python-multipart>=0.0.9,<1"
USER 1000
ENTRYPOINT []
