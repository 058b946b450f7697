# The official Triton 25.02 image (the last with the TensorFlow backend, TF 2.17) plus
# Pillow, which the `preprocess` python model uses to decode photos.
ARG BASE=nvcr.io/nvidia/tritonserver:25.02-py3
FROM ${BASE}
RUN pip install --no-cache-dir "pillow>=10,<12"
