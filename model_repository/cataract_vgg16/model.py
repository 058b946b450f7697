"""Triton python-backend model: the cataract classifier's SavedModel run by TensorFlow.

The embedded flavour of cataract_vgg16 (config.pbtxt). Each execute() receives every
request of one dynamic batch; their images are concatenated and run as ONE TensorFlow
call, then split back per request. On a CPU with AVX512_BF16 the export may have chosen
bfloat16 (parameter `cpu_precision`), after checking that its decisions agree with
float32 on the validation photos; TensorFlow's oneDNN auto-mixed-precision runs it.
"""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils

INPUT = "image"
OUTPUTS = ("probabilities", "heatmap")


def _parameter(config, key, default=""):
    return config.get("parameters", {}).get(key, {}).get("string_value", default)


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        precision = os.environ.get("CATARACT_CPU_PRECISION") or _parameter(config, "cpu_precision", "float32")
        import tensorflow as tf

        if precision == "bfloat16":
            tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
        path = os.path.join(args["model_repository"], args["model_version"], "model.savedmodel")
        self.tf = tf
        self.serve = tf.saved_model.load(path).signatures["serving_default"]
        self.output_dtypes = {
            output["name"]: pb_utils.triton_string_to_numpy(output["data_type"]) for output in config["output"]
        }
        self.logger = pb_utils.Logger
        self.logger.log_info(f"cataract_vgg16 version {args['model_version']} loaded from {path}, precision {precision}")

    def execute(self, requests):
        images = [pb_utils.get_input_tensor_by_name(request, INPUT).as_numpy() for request in requests]
        counts = [len(batch) for batch in images]
        try:
            result = self.serve(image=self.tf.constant(np.concatenate(images)))
            outputs = {name: result[name].numpy().astype(self.output_dtypes[name]) for name in OUTPUTS}
            # In bfloat16 each probability is rounded to 8 bits, so a pair can sum to 1 +- 4e-3;
            # renormalise so that clients always get a probability distribution.
            probabilities = outputs["probabilities"]
            outputs["probabilities"] = probabilities / probabilities.sum(axis=1, keepdims=True)
        except Exception as exc:  # a failed call answers its requests, the model stays up
            error = pb_utils.TritonError(f"classifier failed: {exc}")
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in requests]
        responses, start = [], 0
        for request, count in zip(requests, counts):
            wanted = request.requested_output_names() or OUTPUTS
            tensors = [pb_utils.Tensor(name, outputs[name][start : start + count]) for name in OUTPUTS if name in wanted]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += count
        return responses
