"""Triton python-backend model: the cataract classifier's SavedModel run by TensorFlow.

The embedded flavour of cataract_vgg16 (config.pbtxt). Each execute() receives every
request of one dynamic batch; their images are concatenated and run as ONE TensorFlow
call, then split back per request. The precision is the export's choice (parameter
`cpu_precision`): bfloat16 only where the CPU has it natively and its decisions agreed
with float32 on the validation photos. An operator may override it for this server with
$CATARACT_CPU_PRECISION (float32 or bfloat16); the model logs when it does.

The outputs are those the config lists, which are those the version's SavedModel has: a
version exported before the gradability gate has probabilities and heatmap only, one with
it also gradable and ungradable_reason, and takes the optional input photo_size (absent:
zeros, the photo's size not known and not checked).

`cataract export` copies this file into each version folder, beside
the savedmodel_runner and cataract_contract packages, which the stub finds on its sys.path.
"""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils

from cataract_contract import (
    CPU_PRECISION_OVERRIDE,
    INPUT_IMAGE,
    INPUT_PHOTO_SIZE,
    PARAMETER_CPU_PRECISION,
    PRECISIONS,
    SAVEDMODEL_DIR,
    ServedParameters,
    config_parameters,
)
from savedmodel_runner import SavedModelClassifier


def served_precision(config) -> str:
    """Export's choice of precision, or the operator's override of it ($CATARACT_CPU_PRECISION)."""
    exported = ServedParameters.get(config_parameters(config), PARAMETER_CPU_PRECISION, "float32")
    override = os.environ.get(CPU_PRECISION_OVERRIDE)
    if not override:
        return exported
    if override not in PRECISIONS:
        raise ValueError(f"{CPU_PRECISION_OVERRIDE}={override!r}: it must be one of {', '.join(PRECISIONS)}")
    pb_utils.Logger.log_warn(f"{CPU_PRECISION_OVERRIDE}={override} overrides the precision export chose ({exported})")
    return override


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        precision = served_precision(config)
        path = os.path.join(args["model_repository"], args["model_version"], SAVEDMODEL_DIR)
        self.classifier = SavedModelClassifier(path, precision)
        self.output_dtypes = {
            output["name"]: pb_utils.triton_string_to_numpy(output["data_type"]) for output in config["output"]
        }
        missing = set(self.output_dtypes) - set(self.classifier.outputs)
        if missing:  # configs written for another version than this one
            raise ValueError(f"the config lists outputs {sorted(missing)} that {path} lacks (it has "
                             f"{', '.join(self.classifier.outputs)}): rewrite the configs with `cataract rollback`")
        self.outputs = tuple(name for name in self.classifier.outputs if name in self.output_dtypes)
        pb_utils.Logger.log_info(f"cataract_vgg16 version {args['model_version']} loaded from {path}, precision {precision}")

    def execute(self, requests):
        images = [pb_utils.get_input_tensor_by_name(request, INPUT_IMAGE).as_numpy() for request in requests]
        counts = [len(batch) for batch in images]
        try:
            photo_size = np.concatenate([self._photo_size(request, count) for request, count in zip(requests, counts)])
            result = self.classifier(np.concatenate(images), photo_size)
            outputs = {name: result[name].astype(self.output_dtypes[name]) for name in self.outputs}
        except Exception as exc:  # a failed call answers its requests, the model stays up
            # Clients get a short message; the details (paths, TF internals) stay in the server's log.
            pb_utils.Logger.log_error(f"classifier failed: {type(exc).__name__}: {exc}")
            error = pb_utils.TritonError("classifier failed on the server (details in the server log)")
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in requests]
        responses, start = [], 0
        for request, count in zip(requests, counts):
            wanted = request.requested_output_names() or self.outputs
            tensors = [pb_utils.Tensor(name, outputs[name][start : start + count]) for name in self.outputs if name in wanted]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += count
        return responses

    @staticmethod
    def _photo_size(request, count):
        """The request's photo_size (count, 2), or zeros where it left the optional input out."""
        tensor = pb_utils.get_input_tensor_by_name(request, INPUT_PHOTO_SIZE)
        return np.zeros((count, 2), np.int32) if tensor is None else tensor.as_numpy().astype(np.int32)
