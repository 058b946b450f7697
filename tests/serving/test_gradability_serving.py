"""The gradability gate served by a real tritonserver: the classifier and the ensemble give
the four outputs with their types, a raw call without photo_size is answered (the size not
checked), the ensemble sends the decoded photo's size (a tiny photo is refused, as an
answer), and a version exported before the gate, served after `cataract rollback`, answers
with the two outputs it has."""

from __future__ import annotations

import io
import shutil

import numpy as np
import tritonclient.http as httpclient
from PIL import Image

import cataract_contract as contract
from savedmodel_runner import SavedModelClassifier
from tests.helpers import split_photos, start_server
from tests.train_jax.export.test_gradability_export import make_pre_gate_version
from train_jax.export.rollback import rollback
from train_jax.training.run_folder import load_run

SIZE = 32  # the tiny model's input side


def raw_infer(server, model: str, inputs: dict[str, np.ndarray]) -> httpclient.InferResult:
    """A plain KServe v2 call over HTTP: named tensors in, every output the model has out."""
    client = httpclient.InferenceServerClient(server.http_url)
    tensors = []
    for name, array in inputs.items():
        tensor = httpclient.InferInput(name, list(array.shape), {np.uint8: "UINT8", np.int32: "INT32"}[array.dtype.type])
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return client.infer(model, tensors)


def output_types(result: httpclient.InferResult) -> dict[str, str]:
    return {output["name"]: output["datatype"] for output in result.get_response()["outputs"]}


def encoded(image: np.ndarray) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return np.frombuffer(buffer.getvalue(), np.uint8)[None]


def test_the_classifier_gives_the_gate_with_or_without_photo_size(triton, tiny_repository, synthetic_photos):
    images = np.stack([contract.model_input(path, SIZE) for path in split_photos(synthetic_photos, 3)])
    version = contract.version_numbers(tiny_repository / contract.CLASSIFIER)[-1]
    expected = SavedModelClassifier(tiny_repository / contract.CLASSIFIER / str(version) / contract.SAVEDMODEL_DIR)(images)
    without = raw_infer(triton, contract.CLASSIFIER, {contract.INPUT_IMAGE: images})
    assert output_types(without) == {contract.OUTPUT_PROBABILITIES: "FP32", contract.OUTPUT_HEATMAP: "FP32",
                                     contract.OUTPUT_GRADABLE: "BOOL", contract.OUTPUT_UNGRADABLE_REASON: "INT32"}
    for name in contract.GRADABILITY_OUTPUTS:
        np.testing.assert_array_equal(without.as_numpy(name), expected[name])
    tiny = np.full((3, 2), contract.MIN_PHOTO_SIDE - 1, np.int32)
    refused = raw_infer(triton, contract.CLASSIFIER, {contract.INPUT_IMAGE: images, contract.INPUT_PHOTO_SIZE: tiny})
    assert (refused.as_numpy(contract.OUTPUT_UNGRADABLE_REASON) == contract.UngradableReason.TOO_SMALL).all()
    assert not refused.as_numpy(contract.OUTPUT_GRADABLE).any()


def test_the_ensemble_sends_the_decoded_size_and_a_tiny_photo_is_an_answer(triton, synthetic_photos):
    photo = np.asarray(Image.open(split_photos(synthetic_photos, 1)[0]).convert("RGB"))
    tiny = np.asarray(Image.fromarray(photo).resize((20, 24)))
    answers = {name: raw_infer(triton, contract.ENSEMBLE, {contract.INPUT_IMAGE_BYTES: encoded(image)})
               for name, image in (("photo", photo), ("tiny", tiny))}
    for result in answers.values():
        assert set(output_types(result)) == set(contract.CLASSIFIER_OUTPUTS)
        assert output_types(result)[contract.OUTPUT_GRADABLE] == "BOOL"
    assert answers["tiny"].as_numpy(contract.OUTPUT_UNGRADABLE_REASON)[0, 0] == contract.UngradableReason.TOO_SMALL
    assert answers["photo"].as_numpy(contract.OUTPUT_UNGRADABLE_REASON)[0, 0] != contract.UngradableReason.TOO_SMALL


def test_a_version_exported_before_the_gate_serves_after_rollback(tiny_run, tiny_repository, synthetic_photos, tmp_path):
    repository = tmp_path / "model_repository"
    shutil.copytree(tiny_repository, repository)
    card = contract.ModelCard.read(repository / contract.CLASSIFIER / "1")
    make_pre_gate_version(repository, 2, card, load_run(tiny_run).model)
    rollback(repository, 2)
    server = start_server(repository)
    try:
        image = contract.model_input(split_photos(synthetic_photos, 1)[0], SIZE)[None]
        classified = raw_infer(server, contract.CLASSIFIER, {contract.INPUT_IMAGE: image})
        assert output_types(classified) == {contract.OUTPUT_PROBABILITIES: "FP32", contract.OUTPUT_HEATMAP: "FP32"}
        through_ensemble = raw_infer(server, contract.ENSEMBLE, {contract.INPUT_IMAGE_BYTES: encoded(image[0])})
        assert set(output_types(through_ensemble)) == set(contract.UNGATED_OUTPUTS)
        np.testing.assert_allclose(through_ensemble.as_numpy(contract.OUTPUT_PROBABILITIES),
                                   classified.as_numpy(contract.OUTPUT_PROBABILITIES), atol=1e-5)
    finally:
        server.stop()
