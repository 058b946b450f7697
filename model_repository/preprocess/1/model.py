"""Triton python-backend model: encoded photo bytes -> the classifier's uint8 input, and
the photo's decoded height and width before resizing (photo_size), which the classifier's
gradability gate checks: a photo too small is refused there, an answer, not an error here.

Decodes with the project's shared contract (the cataract_contract package, which `cataract export`
copies beside this file: EXIF orientation, any mode to RGB, accepted formats, size, memory
and decompression-bomb limits) and resizes with the same function as training. A bad
photo fails only its own request, with a message that names the problem; any other
failure answers a short message, with the details in the server's log only.
"""

import json

import numpy as np
import triton_python_backend_utils as pb_utils

from cataract_contract import (
    INPUT_IMAGE,
    INPUT_IMAGE_BYTES,
    INPUT_PHOTO_SIZE,
    INVALID_IMAGE_MARKER,
    PARAMETER_IMAGE_SIZE,
    ImageError,
    ServedParameters,
    config_parameters,
    decode_image,
    resize_for_model,
)


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.image_size = ServedParameters.get(config_parameters(config), PARAMETER_IMAGE_SIZE)

    def execute(self, requests):
        return [self._answer(request) for request in requests]

    def _decoded(self, row):
        """One photo as (the classifier's input, its decoded (height, width)): decoded in
        full, without the decoder's draft reduction, so the size is the photo's own."""
        image = decode_image(row.data)
        return resize_for_model(image, self.image_size), (image.height, image.width)

    def _answer(self, request):
        rows = pb_utils.get_input_tensor_by_name(request, INPUT_IMAGE_BYTES).as_numpy()
        try:
            # Shorter photos in a multi-photo request are zero-padded; JPEG and PNG
            # decoders stop at their end marker, so the padding is harmless. The rows are
            # passed as views: an oversized one is refused before any copy of it is made.
            answers = [self._decoded(row) for row in rows]
            images = np.stack([image for image, _ in answers])
            photo_size = np.array([size for _, size in answers], np.int32)
        except ImageError as exc:  # our own one-line reason, written for the sender
            return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(INVALID_IMAGE_MARKER + str(exc)))
        except Exception as exc:  # never let one photo take the model down, nor its internals reach a client
            pb_utils.Logger.log_error(f"preprocess failed: {type(exc).__name__}: {exc}")
            return pb_utils.InferenceResponse(
                output_tensors=[], error=pb_utils.TritonError("preprocess failed on the server (details in the server log)")
            )
        return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(INPUT_IMAGE, images),
                                                          pb_utils.Tensor(INPUT_PHOTO_SIZE, photo_size)])
