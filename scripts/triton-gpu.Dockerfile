# The official Triton image of a release (BASE) plus Pillow, which the `preprocess` python
# model uses to decode photos: the version the decoder was tested with (requirements.lock's, which
# scripts/app.Dockerfile installs). scripts/serve_gpu.sh tags the build by this file's hash.
ARG BASE=nvcr.io/nvidia/tritonserver:26.07-py3
FROM ${BASE}
RUN pip install --no-cache-dir "pillow==13.0.0"
# NVIDIA's images have the triton-server user (uid 1000) but start as root.
USER triton-server
