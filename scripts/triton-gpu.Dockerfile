# The official Triton image of a release (BASE) plus Pillow, which the `preprocess` python
# model uses to decode photos. scripts/serve_gpu.sh tags the build by this file's hash.
ARG BASE=nvcr.io/nvidia/tritonserver:26.07-py3
FROM ${BASE}
RUN pip install --no-cache-dir "pillow>=10,<13"
