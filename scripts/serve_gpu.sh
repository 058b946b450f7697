#!/usr/bin/env bash
# Production serving on NVIDIA GPUs with the official Triton container.
#
#   bash scripts/serve_gpu.sh [--release YY.MM] [--flavour onnx|tensorflow] [--repository DIR]
#                             [--bind ADDRESS] [--gpus all|N|device=...] [--trt-cache DIR] [--dry-run]
#
# Serves the same model repository as `cataract serve`, with the classifier's GPU flavour:
#   onnx        (the default from 25.03) the ONNX twin on the onnxruntime backend, TensorRT FP16:
#               cataract_vgg16/configs/gpu_onnx.pbtxt, --model-config-name=gpu_onnx
#   tensorflow  (the default up to 25.02, the last release with the TensorFlow backend) the
#               SavedModel with TF-TRT FP16: configs/gpu_tensorflow.pbtxt
# The release defaults to a current one. The image is nvcr.io/nvidia/tritonserver:<release>-py3
# plus what the preprocess python model needs (scripts/triton-gpu.Dockerfile), tagged by the
# release and the Dockerfile's hash, so a changed Dockerfile builds a new image. TensorRT's
# engines are cached in --trt-cache (default ~/.cache/cataract/trt/<release>) across restarts.
# Needs Docker with the NVIDIA Container Toolkit. Ports 8000 (HTTP), 8001 (gRPC) and 8002
# (metrics) are published on 127.0.0.1 unless --bind says otherwise: 0.0.0.0 exposes an
# unauthenticated API to the network.
set -euo pipefail
cd "$(dirname "$0")/.."

RELEASE="26.07"
LAST_TENSORFLOW_RELEASE="25.02"
FLAVOUR=""
REPOSITORY="model_repository"
BIND="127.0.0.1"
GPUS="all"
TRT_CACHE=""
DRY_RUN=0
DOCKERFILE="scripts/triton-gpu.Dockerfile"

while [ $# -gt 0 ]; do
    case "$1" in
        --release) RELEASE="$2"; shift 2 ;;
        --flavour) FLAVOUR="$2"; shift 2 ;;
        --repository) REPOSITORY="$2"; shift 2 ;;
        --bind) BIND="$2"; shift 2 ;;
        --gpus) GPUS="$2"; shift 2 ;;
        --trt-cache) TRT_CACHE="$2"; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "serve_gpu.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$RELEASE" =~ ^[0-9]{2}\.[0-9]{2}$ ]] || { echo "serve_gpu.sh: --release takes YY.MM, e.g. 25.02, got $RELEASE" >&2; exit 2; }
has_tensorflow=0
[ "$(printf '%s\n%s\n' "$RELEASE" "$LAST_TENSORFLOW_RELEASE" | sort -V | head -n 1)" = "$RELEASE" ] && has_tensorflow=1
if [ -z "$FLAVOUR" ]; then
    FLAVOUR="onnx"
    [ "$has_tensorflow" = 1 ] && FLAVOUR="tensorflow"
fi
case "$FLAVOUR" in
    onnx) CONFIG_NAME="gpu_onnx" ;;
    tensorflow)
        [ "$has_tensorflow" = 1 ] || { echo "serve_gpu.sh: Triton $RELEASE has no TensorFlow backend (the last is $LAST_TENSORFLOW_RELEASE): use --flavour onnx" >&2; exit 2; }
        CONFIG_NAME="gpu_tensorflow" ;;
    *) echo "serve_gpu.sh: --flavour is onnx or tensorflow, got $FLAVOUR" >&2; exit 2 ;;
esac
REPOSITORY="$(cd "$REPOSITORY" && pwd)" || { echo "serve_gpu.sh: no repository folder $REPOSITORY" >&2; exit 2; }
TRT_CACHE="${TRT_CACHE:-${CATARACT_CACHE:-$HOME/.cache/cataract}/trt/$RELEASE}"

BASE_IMAGE="nvcr.io/nvidia/tritonserver:$RELEASE-py3"
IMAGE="cataract-triton:$RELEASE-$(sha256sum "$DOCKERFILE" | cut -c1-12)"
build=(docker build -t "$IMAGE" --build-arg BASE="$BASE_IMAGE" -f "$DOCKERFILE" scripts)
run=(docker run --rm --gpus "$GPUS" --user "$(id -u):$(id -g)" --shm-size=1g
     -p "$BIND:8000:8000" -p "$BIND:8001:8001" -p "$BIND:8002:8002"
     -v "$REPOSITORY:/models:ro" -v "$TRT_CACHE:/trt_cache"
     "$IMAGE"
     tritonserver --model-repository=/models "--model-config-name=$CONFIG_NAME" --model-control-mode=none
     --exit-timeout-secs=30)

if [ "$DRY_RUN" = 1 ]; then
    echo "${build[*]}"
    echo "${run[*]}"
    exit 0
fi
command -v docker >/dev/null || { echo "serve_gpu.sh: docker is not installed" >&2; exit 1; }
mkdir -p "$TRT_CACHE"
docker image inspect "$IMAGE" >/dev/null 2>&1 || "${build[@]}"
exec "${run[@]}"
