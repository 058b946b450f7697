#!/usr/bin/env bash
# Production serving on NVIDIA GPUs with the official Triton container.
#
#   bash scripts/serve_gpu.sh [--repository DIR] [--bind ADDRESS] [--gpus all|N|device=...] [--dry-run]
#
# Serves the same model repository as `cataract serve`, but picks the classifier's GPU
# flavour (cataract_vgg16/configs/gpu.pbtxt: platform tensorflow_savedmodel, TF-TRT FP16)
# with --model-config-name=gpu. Needs Docker with the NVIDIA Container Toolkit. The image
# is nvcr.io/nvidia/tritonserver:25.02-py3 + Pillow (scripts/triton-gpu.Dockerfile), built
# once. Ports 8000 (HTTP), 8001 (gRPC) and 8002 (metrics) are published on 127.0.0.1
# unless --bind says otherwise: 0.0.0.0 exposes an unauthenticated API to the network.
set -euo pipefail
cd "$(dirname "$0")/.."

REPOSITORY="model_repository"
BIND="127.0.0.1"
GPUS="all"
DRY_RUN=0
BASE_IMAGE="nvcr.io/nvidia/tritonserver:25.02-py3"
IMAGE="cataract-triton:25.02"

while [ $# -gt 0 ]; do
    case "$1" in
        --repository) REPOSITORY="$2"; shift 2 ;;
        --bind) BIND="$2"; shift 2 ;;
        --gpus) GPUS="$2"; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "serve_gpu.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
REPOSITORY="$(cd "$REPOSITORY" && pwd)" || { echo "serve_gpu.sh: no repository folder $REPOSITORY" >&2; exit 2; }

build=(docker build -t "$IMAGE" --build-arg BASE="$BASE_IMAGE" -f scripts/triton-gpu.Dockerfile scripts)
run=(docker run --rm --gpus "$GPUS" --shm-size=1g
     -p "$BIND:8000:8000" -p "$BIND:8001:8001" -p "$BIND:8002:8002"
     -v "$REPOSITORY:/models:ro"
     "$IMAGE"
     tritonserver --model-repository=/models --model-config-name=gpu --model-control-mode=none
     --exit-timeout-secs=30)

if [ "$DRY_RUN" = 1 ]; then
    echo "${build[*]}"
    echo "${run[*]}"
    exit 0
fi
command -v docker >/dev/null || { echo "serve_gpu.sh: docker is not installed" >&2; exit 1; }
docker image inspect "$IMAGE" >/dev/null 2>&1 || "${build[@]}"
exec "${run[@]}"
