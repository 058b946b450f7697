"""The gradability gate in the exported graph: the SavedModel decides as the JAX gate and
an independent numpy reference do, on photos of each kind; its ONNX twin answers the same;
a version exported before the gate (its SavedModel and card without one) still loads,
and `cataract rollback` serves it under configs that list only what it has."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from flax import nnx

import cataract_contract as contract
from savedmodel_runner import SavedModelClassifier
from tests.train_jax.export import gate_reference
from train_jax.export import onnx_twin, repository as repo, savedmodel
from train_jax.export.export import FORBIDDEN_OPS, export
from train_jax.export.rollback import rollback
from train_jax.gradability import measures
from train_jax.gradability.spec import GateSpec
from train_jax.model.vgg16 import VGG16, ModelConfig

SIZE = 64


def eye_like(count: int, seed: int = 0) -> np.ndarray:
    """Smooth bright discs on a darker ground with a little noise: photos the gate fitted
    on them should pass, unlike black, blurred or noise ones."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[:SIZE, :SIZE] / SIZE
    photos = []
    for _ in range(count):
        x, y, spread = rng.uniform(0.3, 0.7, 3)
        disc = np.exp(-((columns - x) ** 2 + (rows - y) ** 2) / (0.05 + 0.1 * spread))[..., None]
        photo = disc * rng.uniform(80, 200, 3) + rng.uniform(20, 60, 3) + rng.normal(0, 12, (SIZE, SIZE, 3))
        photos.append(np.clip(photo, 0, 255).astype(np.uint8))
    return np.stack(photos)


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """A narrow model, a gate fitted on its eye-like photos, its SavedModel and the probes:
    the fitting photos (most pass), black, blurred, noise, grey, green and a tiny decoded size."""
    model = VGG16(ModelConfig(image_size=SIZE, width=0.25), rngs=nnx.Rngs(3))
    model.eval()
    photos = eye_like(40)
    gate = gate_reference.fit_gate(model, photos, np.arange(40) % 2)
    path = tmp_path_factory.mktemp("gated") / contract.SAVEDMODEL_DIR
    savedmodel.save(model, path, 0.4, gate)
    images, photo_size = gate_reference.probes(photos[:8])
    return model, gate, path, images, photo_size


def test_the_savedmodel_decides_as_the_jax_gate_and_the_reference_on_every_kind_of_photo(gated):
    model, gate, path, images, photo_size = gated
    served = SavedModelClassifier(path).run_batches(images, batch_size=5, photo_size=photo_size)
    assert served[contract.OUTPUT_GRADABLE].dtype == bool and served[contract.OUTPUT_GRADABLE].shape == (len(images), 1)
    assert served[contract.OUTPUT_UNGRADABLE_REASON].dtype == np.int32
    reasons = served[contract.OUTPUT_UNGRADABLE_REASON][:, 0]
    jax_gate = measures.gate(model, gate, images, photo_size)
    np.testing.assert_array_equal(reasons, jax_gate["reason"])
    np.testing.assert_array_equal(served[contract.OUTPUT_GRADABLE][:, 0], jax_gate["gradable"])
    _, reference = gate_reference.decide(model, gate, images, photo_size)
    np.testing.assert_array_equal(reasons, reference)
    Reason = contract.UngradableReason
    assert (reasons[:8] == Reason.GRADABLE).sum() >= 6, reasons  # photos like those it was fitted on pass
    assert reasons[8] == Reason.TOO_DARK and list(reasons[9:11]) == [Reason.BLURRED] * 2
    assert all(reason != Reason.GRADABLE for reason in reasons[11:13])  # noise
    assert reasons[13] == Reason.GREYSCALE  # the first photo in grey
    # The first photo in green: refused by the colour-distribution check, the one before the features'.
    assert reasons[14] == Reason.NOT_AN_EYE_PHOTO and jax_gate["colour_distance"][14] > gate.limits.max_colour_distance
    assert jax_gate["colour_distance"][0] <= gate.limits.max_colour_distance
    assert reasons[15] == Reason.TOO_SMALL and reasons[0] == Reason.GRADABLE  # the same photo, at a known tiny size


def test_photo_size_left_out_or_zero_is_not_checked(gated):
    _, _, path, images, _ = gated
    classifier = SavedModelClassifier(path)
    assert classifier.gated and classifier.outputs == contract.CLASSIFIER_OUTPUTS
    unknown = classifier(images[:1])[contract.OUTPUT_UNGRADABLE_REASON]
    small = classifier(images[:1], np.array([[20, 20]]))[contract.OUTPUT_UNGRADABLE_REASON]
    assert unknown[0, 0] == contract.UngradableReason.GRADABLE and small[0, 0] == contract.UngradableReason.TOO_SMALL


def test_the_gate_order_in_the_graph_is_the_contracts(gated):
    """Measures drawn around every limit at once: the graph's tf.where chain gives the
    reason gate_decision gives, for every combination of failed checks."""
    import tensorflow as tf

    _, gate, _, _, _ = gated
    limits = gate.limits
    rng = np.random.default_rng(5)
    count = 400
    brightness = rng.choice([limits.min_brightness - 1, (limits.min_brightness + limits.max_brightness) / 2,
                             limits.max_brightness + 1], count).astype(np.float32)
    colourfulness = (limits.min_colourfulness + rng.choice([-1.0, 1.0], count)).astype(np.float32)
    sharpness = (limits.min_sharpness + rng.choice([-0.5, 0.5], count)).astype(np.float32)
    colours = (limits.max_colour_distance * rng.choice([0.5, 2.0], count)).astype(np.float32)
    distance = (limits.max_feature_distance * rng.choice([0.5, 2.0], count)).astype(np.float32)
    photo_size = rng.choice([0, 10, 500], (count, 2)).astype(np.int32)
    measured = {"brightness": brightness, "colourfulness": colourfulness, "sharpness": sharpness,
                "colour_distance": colours, "feature_distance": distance}
    expected = contract.gate_decision(photo_size, measured, limits)[1]
    # The graph's chain, fed these measures directly instead of measuring photos.
    reason = tf.where(distance > limits.max_feature_distance, int(contract.UngradableReason.NOT_AN_EYE_PHOTO), 0)
    shorter = tf.reduce_min(photo_size, axis=1)
    for failed, code in ((colours > limits.max_colour_distance, contract.UngradableReason.NOT_AN_EYE_PHOTO),
                         (colourfulness < limits.min_colourfulness, contract.UngradableReason.GREYSCALE),
                         (sharpness < limits.min_sharpness, contract.UngradableReason.BLURRED),
                         (brightness > limits.max_brightness, contract.UngradableReason.TOO_BRIGHT),
                         (brightness < limits.min_brightness, contract.UngradableReason.TOO_DARK),
                         ((shorter > 0) & (shorter < limits.min_photo_side), contract.UngradableReason.TOO_SMALL)):
        reason = tf.where(failed, int(code), reason)
    np.testing.assert_array_equal(reason.numpy(), expected)
    assert set(np.unique(expected)) == set(contract.UngradableReason)


def test_the_onnx_twin_gives_the_same_four_outputs(gated, tmp_path):
    import onnx

    _, _, path, images, photo_size = gated
    twin = tmp_path / onnx_twin.ONNX_FILE
    onnx_twin.convert(path, twin)
    served = SavedModelClassifier(path).run_batches(images, photo_size=photo_size)
    answered = onnx_twin.run(twin, images, batch_size=3, photo_size=photo_size)
    assert list(answered) == list(contract.CLASSIFIER_OUTPUTS)
    for name in contract.GRADABILITY_OUTPUTS:
        assert answered[name].dtype == served[name].dtype
        np.testing.assert_array_equal(answered[name], served[name])
    np.testing.assert_allclose(answered[contract.OUTPUT_PROBABILITIES], served[contract.OUTPUT_PROBABILITIES], atol=1e-5)
    graph = onnx.load(str(twin)).graph
    assert [tensor.name for tensor in graph.input] == [contract.INPUT_IMAGE, contract.INPUT_PHOTO_SIZE]
    assert graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.INT32


def test_the_gate_keeps_the_graph_to_plain_ops_and_its_convolutions_to_the_network(gated):
    from train_jax.export import tf_backend

    _, _, path, images, _ = gated
    assert not savedmodel.graph_op_types(path) & FORBIDDEN_OPS
    _, executed = tf_backend.run_as_the_backend(path, images[:2])
    assert tf_backend.convolutions_visible(executed) == 13  # the Laplacian is no convolution


def test_bfloat16_moves_the_gate_no_more_than_the_labels(gated):
    """Under the oneDNN bfloat16 rewrite the network's features move, and the distance
    with them; the decisions on the probes stay those of float32."""
    _, _, path, images, photo_size = gated
    full = SavedModelClassifier(path).run_batches(images, photo_size=photo_size)
    low = SavedModelClassifier(path, "bfloat16").run_batches(images, photo_size=photo_size)
    agreeing = np.mean(low[contract.OUTPUT_UNGRADABLE_REASON] == full[contract.OUTPUT_UNGRADABLE_REASON])
    assert agreeing >= 0.9, (low[contract.OUTPUT_UNGRADABLE_REASON][:, 0], full[contract.OUTPUT_UNGRADABLE_REASON][:, 0])


def test_an_ungated_savedmodel_keeps_the_old_interface(gated, tmp_path):
    model, _, _, images, _ = gated
    path = tmp_path / contract.SAVEDMODEL_DIR
    savedmodel.save(model, path, 0.4)
    classifier = SavedModelClassifier(path)
    assert not classifier.gated and classifier.outputs == contract.UNGATED_OUTPUTS
    answers = classifier(images[:3], np.array([[10, 10]] * 3))  # a size it cannot check is not checked
    assert set(answers) == set(contract.UNGATED_OUTPUTS)


def test_export_refuses_a_run_without_a_gate_and_says_how_to_fit_one(tiny_run, tmp_path):
    from train_jax.errors import UserError

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    for name in ("gradability.json", "gradability.npz"):
        (run / name).unlink(missing_ok=True)
    with pytest.raises(UserError, match="operating-point .* --fit-gate"):
        export(run, tmp_path / "repository", cpu_precision="float32", allow_unproven=True)


def make_pre_gate_version(repository, version: int, gated_card: contract.ModelCard, model) -> None:
    """A version as export wrote it before the gate: an ungated SavedModel and a card whose
    JSON has none of the fields added with the gate."""
    version_dir = repository / contract.CLASSIFIER / str(version)
    savedmodel.save(model, version_dir / contract.SAVEDMODEL_DIR, gated_card.decision_threshold)
    fields = json.loads(gated_card.to_json())
    for added in ("gradability", "operating_point", "operating_point_achieved", "operating_point_warning"):
        del fields[added]
    (version_dir / contract.MODEL_CARD).write_text(json.dumps({**fields, "version": version}))
    repo.copy_python_model(repo.CLASSIFIER_SOURCE, version_dir, with_runner=True)


def test_export_records_the_gate_and_rollback_serves_a_pre_gate_version_with_its_own_configs(tiny_run, tmp_path):
    from train_jax.training.run_folder import load_run

    repository = tmp_path / "repository"
    exported = export(tiny_run, repository, cpu_precision="float32", allow_unproven=True)
    card = contract.ModelCard.read(exported.version_dir)
    gate = GateSpec.load(tiny_run)
    assert card.gradability == contract.GateCard(gate.limits, tuple(gate.feature_blocks), gate.method,
                                                 tuple(gate.blind_spots), gate.validation)
    threshold = json.loads((tiny_run / "threshold.json").read_text())
    assert card.operating_point == threshold.get("operating_point", "youden")
    assert card.operating_point_warning == threshold.get("warning")
    served = contract.ServedParameters.from_config(
        {key: value.string_value for key, value in repo.parse_config(
            (repository / contract.CLASSIFIER / "config.pbtxt").read_text()).parameters.items()})
    assert served.gated and served.gate_limits() == gate.limits

    make_pre_gate_version(repository, 2, card, load_run(tiny_run).model)
    old = rollback(repository, 2).card
    assert old.gradability is None and old.operating_point == "youden"
    classifier = repo.parse_config((repository / contract.CLASSIFIER / "config.pbtxt").read_text())
    ensemble = repo.parse_config((repository / contract.ENSEMBLE / "config.pbtxt").read_text())
    for config in (classifier, ensemble):
        assert [output.name for output in config.output] == list(contract.UNGATED_OUTPUTS)
    assert [tensor.name for tensor in classifier.input] == [contract.INPUT_IMAGE]
    for flavour in (repo.GPU_ONNX_CONFIG, repo.GPU_TENSORFLOW_CONFIG):
        config = repo.parse_config((repository / contract.CLASSIFIER / "configs" / f"{flavour}.pbtxt").read_text())
        assert [output.name for output in config.output] == list(contract.UNGATED_OUTPUTS)
    assert not contract.ServedParameters.from_config(
        {key: value.string_value for key, value in classifier.parameters.items()}).gated

    rollback(repository, 1)  # and back: the gate's configs again
    classifier = repo.parse_config((repository / contract.CLASSIFIER / "config.pbtxt").read_text())
    assert [output.name for output in classifier.output] == list(contract.CLASSIFIER_OUTPUTS)
