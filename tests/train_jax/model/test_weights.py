"""Pretrained weights: files written in exactly the published layouts, loaded into the
Flax VGG16 at 224x224, must reproduce Keras' and PyTorch's own VGG16 features on the same images.

ImageNet weights cannot be downloaded here, so the files hold seeded random weights
in the published layouts; the loading code is the one that reads the real files.
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path

import h5py
import numpy as np
import pytest
from flax import nnx

from train_jax.model import pretrained
from train_jax.model.keras_h5 import KERAS_NOTOP_FILE
from train_jax.model.torch_pth import TORCHVISION_CONV_INDICES, TORCHVISION_FILE
from train_jax.errors import UserError
from train_jax.model.vgg16 import VGG16, ModelConfig

SIZE = 224  # the real network: parity must hold where the product runs, 7x7 features


@pytest.fixture(scope="module")
def keras_vgg16():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    return keras.applications.VGG16(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))


def write_keras_notop_layout(model, path: Path) -> None:
    """The layout of vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5: a group per layer,
    `weight_names` attributes, datasets <layer>_W_1:0 and <layer>_b_1:0."""
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        file.attrs["backend"] = b"tensorflow"
        file.attrs["keras_version"] = b"2.0.8"
        for layer in model.layers:
            group = file.create_group(layer.name)
            arrays = layer.get_weights()
            names = [f"{layer.name}_W_1:0", f"{layer.name}_b_1:0"][: len(arrays)]
            group.attrs["weight_names"] = [name.encode() for name in names]
            for name, array in zip(names, arrays):
                group.create_dataset(name, data=array)


def relative_error(expected: np.ndarray, actual: np.ndarray) -> float:
    return float(np.abs(expected - actual).max() / np.abs(expected).max())


def photos(count: int = 4) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (count, SIZE, SIZE, 3)).astype(np.float32)


def test_keras_notop_file_reproduces_keras_features(keras_vgg16, tmp_path, caplog):
    keras = pytest.importorskip("keras")
    path = tmp_path / "vgg16_notop_seeded.h5"
    write_keras_notop_layout(keras_vgg16, path)

    # Keras itself reads the file (as VGG16(weights="imagenet") would the real one) ...
    reference = keras.applications.VGG16(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
    reference.load_weights(path)
    images = photos()
    expected = reference.predict(keras.applications.vgg16.preprocess_input(images.copy()), verbose=0)

    # ... and so does our loader, into the Flax model with its own caffe preprocessing.
    weights = pretrained.read_weight_file(path)
    assert weights.preprocessing == "caffe"
    model = VGG16(ModelConfig(image_size=SIZE, preprocessing=weights.preprocessing), rngs=nnx.Rngs(0))
    with caplog.at_level(logging.INFO):
        report = pretrained.load_into(model, weights)
    actual = np.asarray(model.trunk(model.preprocess(images)))

    assert expected.shape == actual.shape == (4, SIZE // 32, SIZE // 32, 512)
    assert relative_error(expected, actual) < 1e-4
    assert len(report.loaded) == 2 * 13 and report.fresh == ("head/bias", "head/kernel")
    assert "loaded: blocks/0/0/bias, blocks/0/0/kernel" in caplog.text
    assert "fresh (initialised here): head/bias, head/kernel" in caplog.text


def test_merge_params_takes_loaded_arrays_skips_dont_load_and_names_both():
    inited = {"blocks/0/0/kernel": np.zeros((3, 3, 3, 4)), "blocks/0/0/bias": np.zeros(4),
              "blocks/4/2/kernel": np.zeros((3, 3, 4, 4)), "head/kernel": np.zeros((4, 2))}
    loaded = {"blocks/0/0/kernel": np.ones((3, 3, 3, 4)), "blocks/0/0/bias": np.ones(4), "blocks/4/2/kernel": np.ones((3, 3, 4, 4))}
    dont_load = ["blocks/4/.*", "head/.*"]
    merged, report = pretrained.merge_params(loaded, inited, dont_load)
    assert report.loaded == ("blocks/0/0/kernel", "blocks/0/0/bias")
    assert report.fresh == ("blocks/4/2/kernel", "head/kernel")
    assert merged["blocks/0/0/kernel"].sum() == 3 * 3 * 3 * 4 and merged["blocks/4/2/kernel"].sum() == 0
    assert inited["blocks/0/0/kernel"].sum() == 0, "the initialised parameters are not modified"
    with pytest.raises(UserError, match="has shape \\(3, 3, 3, 4\\), the model needs \\(3, 3, 3, 8\\)"):
        pretrained.merge_params(loaded, {**inited, "blocks/0/0/kernel": np.zeros((3, 3, 3, 8))}, dont_load)
    with pytest.raises(UserError, match="parameters the model lacks: blocks/9/0/bias"):
        pretrained.merge_params({**loaded, "blocks/9/0/bias": np.ones(1)}, inited, dont_load)
    _, report = pretrained.merge_params({**loaded, "blocks/4/9/bias": np.ones(1)}, inited, dont_load)
    assert report.fresh == ("blocks/4/2/kernel", "head/kernel"), "what dont_load names may be in the file alone too"


def test_merge_params_refuses_what_the_file_lacks_unless_dont_load_names_it():
    inited = {"blocks/0/0/kernel": np.zeros((3, 3, 3, 4)), "blocks/0/0/bias": np.zeros(4), "head/kernel": np.zeros((4, 2))}
    loaded = {"blocks/0/0/kernel": np.ones((3, 3, 3, 4))}
    with pytest.raises(pretrained.MissingParameters) as error:
        pretrained.merge_params(loaded, inited)
    assert error.value.paths == ("blocks/0/0/bias", "head/kernel")
    assert "\n" not in str(error.value) and "blocks/0/0/bias, head/kernel" in str(error.value)
    with pytest.raises(pretrained.MissingParameters, match="lacks parameters the model loads .*: blocks/0/0/bias$"):
        pretrained.merge_params(loaded, inited, dont_load=["head/.*"])
    _, report = pretrained.merge_params(loaded, inited, dont_load=["head/.*", "blocks/0/0/bias"])
    assert report.loaded == ("blocks/0/0/kernel",) and report.fresh == ("blocks/0/0/bias", "head/kernel")


def write_keras_notop_without(model, path: Path, layer: str) -> Path:
    """The published layout with one layer's group left out."""
    write_keras_notop_layout(model, path)
    with h5py.File(path, "a") as file:
        del file[layer]
    return path


def test_keras_file_without_a_layer_is_an_error_naming_it(keras_vgg16, tmp_path):
    weights = pretrained.read_weight_file(write_keras_notop_without(keras_vgg16, tmp_path / "partial.h5", "block3_conv2"))
    model = VGG16(ModelConfig(image_size=SIZE), rngs=nnx.Rngs(0))
    before = np.asarray(model.blocks[0][0].kernel[...]).copy()
    with pytest.raises(UserError) as error:
        pretrained.load_into(model, weights)
    message = str(error.value)
    assert "lacks block3_conv2, which the model loads" in message and "partial.h5" in message and "\n" not in message
    assert "block3_conv1" not in message and "head" not in message, "only what is missing is named; the head is never loaded"
    np.testing.assert_array_equal(np.asarray(model.blocks[0][0].kernel[...]), before, "a refused file loads nothing")


def test_dont_load_lets_a_named_layer_start_fresh(keras_vgg16, tmp_path):
    weights = pretrained.read_weight_file(write_keras_notop_without(keras_vgg16, tmp_path / "partial.h5", "block3_conv2"))
    model = VGG16(ModelConfig(image_size=SIZE), rngs=nnx.Rngs(0))
    initial = np.asarray(model.blocks[2][1].kernel[...]).copy()
    report = pretrained.load_into(model, weights, dont_load=(*pretrained.DONT_LOAD_HEAD, "blocks/2/1/.*"))
    assert report.fresh == ("blocks/2/1/bias", "blocks/2/1/kernel", "head/bias", "head/kernel")
    assert len(report.loaded) == 2 * 12
    np.testing.assert_array_equal(np.asarray(model.blocks[2][1].kernel[...]), initial)
    loaded = keras_vgg16.get_layer("block3_conv1").get_weights()[0]
    np.testing.assert_array_equal(np.asarray(model.blocks[2][0].kernel[...]), loaded)


def torch_vgg16_features():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    layers: list = []
    in_channels = 3
    for channels, count in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(count):
            layers += [nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
            in_channels = channels
        layers.append(nn.MaxPool2d(2, 2))

    class VGG(nn.Module):  # torchvision's attribute names: features.0, features.2, ...
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)

    torch.manual_seed(0)
    return VGG().eval()


@pytest.mark.parametrize("legacy_format", [True, False], ids=["legacy-pickle (published file)", "zip"])
def test_torchvision_pth_reproduces_torch_features(tmp_path, legacy_format):
    torch = pytest.importorskip("torch")
    vgg = torch_vgg16_features()
    path = tmp_path / "vgg16-seeded.pth"
    torch.save(vgg.state_dict(), path, _use_new_zipfile_serialization=not legacy_format)
    assert sorted({key.split(".")[1] for key in vgg.state_dict()}, key=int) == [str(i) for i in TORCHVISION_CONV_INDICES]

    images = photos()
    normalised = (images / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    with torch.no_grad():
        expected = vgg.features(torch.from_numpy(normalised.transpose(0, 3, 1, 2)).float()).numpy().transpose(0, 2, 3, 1)

    weights = pretrained.read_weight_file(path)
    assert weights.preprocessing == "torch"
    model = VGG16(ModelConfig(image_size=SIZE, preprocessing=weights.preprocessing), rngs=nnx.Rngs(0))
    pretrained.load_into(model, weights)
    actual = np.asarray(model.trunk(model.preprocess(images)))
    assert relative_error(expected, actual) < 1e-4


def test_pth_without_a_layer_is_an_error_naming_it(tmp_path):
    torch = pytest.importorskip("torch")
    state = torch_vgg16_features().state_dict()
    del state["features.12.weight"], state["features.12.bias"]
    torch.save(state, tmp_path / "partial.pth")
    model = VGG16(ModelConfig(image_size=SIZE, preprocessing="torch"), rngs=nnx.Rngs(0))
    with pytest.raises(UserError, match="partial.pth .* lacks features.12, which the model loads"):
        pretrained.load_into(model, pretrained.read_weight_file(tmp_path / "partial.pth"))


def test_pth_with_half_a_layer_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    state = torch_vgg16_features().state_dict()
    del state["features.12.bias"]
    torch.save(state, tmp_path / "half.pth")
    with pytest.raises(UserError, match="holds half of layer features.12: features.12.bias is missing"):
        pretrained.read_weight_file(tmp_path / "half.pth")


def test_pth_that_would_run_code_is_refused(tmp_path):
    torch = pytest.importorskip("torch")

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.pth"
    torch.save(collections.OrderedDict(weight=Payload()), path, _use_new_zipfile_serialization=False)
    with pytest.raises(UserError, match="refusing to load.*print"):
        pretrained.read_weight_file(path)


def test_published_file_name_is_md5_checked(keras_vgg16, tmp_path):
    path = tmp_path / KERAS_NOTOP_FILE
    write_keras_notop_layout(keras_vgg16, path)
    with pytest.raises(UserError, match="MD5 .* not the published 6d6bbae143d832006294945121d1f1fc"):
        pretrained.read_weight_file(path)


def test_imagenet_without_the_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(UserError) as error:
        pretrained.resolve("imagenet", allow_download=False)
    message = str(error.value)
    assert "\n" not in message
    assert KERAS_NOTOP_FILE in message and str(tmp_path / "keras" / "models") in message


def test_auto_without_the_file_warns_loudly_and_starts_random(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with caplog.at_level(logging.WARNING):
        assert pretrained.resolve("auto", allow_download=False) is None
    assert "NO PRETRAINED WEIGHTS" in caplog.text


def test_imagenet_found_in_the_torch_cache(keras_vgg16, tmp_path, monkeypatch):
    """The cache lookup finds a file by its published name (here, a torchvision one,
    since a Keras file with the published name would fail its MD5 check)."""
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(torch_vgg16_features().state_dict(), cache / TORCHVISION_FILE)
    weights = pretrained.resolve("imagenet", allow_download=False)
    assert weights.preprocessing == "torch" and len(weights.layers) == 13


def test_narrow_model_refuses_full_width_weights(keras_vgg16, tmp_path):
    path = tmp_path / "weights.h5"
    write_keras_notop_layout(keras_vgg16, path)
    model = VGG16(ModelConfig(image_size=SIZE, width=0.25), rngs=nnx.Rngs(0))
    with pytest.raises(UserError, match="full-width"):
        pretrained.load_into(model, pretrained.read_weight_file(path))
