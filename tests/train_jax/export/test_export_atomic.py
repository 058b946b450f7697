"""An export is never half-visible (issue 22): `cataract export` is killed after each change
it makes to a repository a polling Triton serves (CRASH_AT_ENVIRONMENT ends the process
as a crash would, with no clean-up), and after each kill the server answers from one
version, under that version's own threshold and image size, from the classifier and
through the ensemble; each flavour's config on disk names a complete version and carries
that version's card; and Triton never takes the staging folder for a model. The export
that is not killed, once every step has been, serves its version in every flavour; and
a repository whose configs serve the newest (as before) is pinned before a version is added."""

from __future__ import annotations

import itertools
import json
import shutil
import time
import urllib.request

import pytest
from google.protobuf import text_format

from cataract_contract import CLASSIFIER, ENSEMBLE, PREPROCESS, SAVEDMODEL_DIR, ModelCard, ServedParameters
from client.triton_client import CataractClient
from tests.helpers import run_cli, start_polled_server
from train_jax.export import repository as repo
from train_jax.export.export import pin_served_version

POLL_SECONDS = 1
SETTLE_SECONDS = 2 * POLL_SECONDS  # two polls: time for a wrongly visible version to start loading, were there one
LOAD_DEADLINE_SECONDS = 180  # a switched version's load and warm-up, on a busy CPU


@pytest.fixture(scope="module")
def polled(tiny_run, tmp_path_factory):
    """Version 1, served by a polling Triton."""
    server, repository = start_polled_server(tiny_run, tmp_path_factory.mktemp("atomic"), POLL_SECONDS)
    yield server, repository
    server.stop()


def repository_index(server) -> list[dict]:
    request = urllib.request.Request(f"http://{server.http_url}/v2/repository/index", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def config_on_disk(path) -> tuple[int, ServedParameters]:
    parsed = repo.parse_config(path.read_text())
    parameters = ServedParameters.from_config({key: value.string_value for key, value in parsed.parameters.items()})
    return list(parsed.version_policy.specific.versions)[0], parameters


def check_configs_on_disk(repository) -> int:
    """Every flavour's config names one complete version and carries its card's parameters;
    the preprocess model's image size is the embedded flavour's. Returns the version the
    embedded flavour (the one this server reads) serves."""
    classifier = repository / CLASSIFIER
    for config in (classifier / "config.pbtxt", *sorted((classifier / "configs").glob("*.pbtxt"))):
        version, parameters = config_on_disk(config)
        assert (classifier / str(version) / SAVEDMODEL_DIR).is_dir(), f"{config.name} names version {version}, not complete"
        assert parameters == ModelCard.read(classifier / str(version)).to_parameters(), config.name
    served, parameters = config_on_disk(classifier / "config.pbtxt")
    preprocess = repo.parse_config((repository / PREPROCESS / "config.pbtxt").read_text())
    assert int(preprocess.parameters["image_size"].string_value) == parameters.image_size
    return served


def wait_until_served(server, version: int) -> None:
    """Until no model loads or unloads, then the classifier's `version` must be the one
    version it has ready (one version served alone, whatever else is on disk)."""
    deadline = time.monotonic() + LOAD_DEADLINE_SECONDS
    while any(model.get("state") in ("LOADING", "UNLOADING") for model in repository_index(server)):
        assert time.monotonic() < deadline, f"still loading after {LOAD_DEADLINE_SECONDS} s: {repository_index(server)}"
        time.sleep(0.5)
    index = repository_index(server)
    ready = {model.get("version") for model in index if model["name"] == CLASSIFIER and model.get("state") == "READY"}
    assert ready == {str(version)}, f"the server has classifier versions {sorted(ready)} ready, its config names {version}: {index}"


def check_answers(server, repository, version: int, photo) -> None:
    """The classifier answers from `version` and serves its card's threshold and image size;
    the ensemble answers too; the index holds the three models and no staging folder."""
    card = ModelCard.read(repository / CLASSIFIER / str(version))
    for transport in ("tensor", "bytes"):
        client = CataractClient(server.grpc_url, "grpc", transport=transport, retries=0, timeout=60)
        try:
            info = client.info(refresh=True)
            assert (info.version, info.threshold, info.image_size) == (str(version), card.decision_threshold,
                                                                         card.image_size), transport
            answer = client.predict(photo)
            assert answer.threshold == card.decision_threshold, transport
            if transport == "tensor":  # the answering version itself (an ensemble's answer names the ensemble's)
                assert answer.model_version == str(version)
        finally:
            client.close()
    assert {model["name"] for model in repository_index(server)} == {CLASSIFIER, PREPROCESS, ENSEMBLE}


@pytest.mark.server
def test_an_export_killed_at_any_step_leaves_one_version_served_with_its_own_parameters(polled, tiny_run,
                                                                                        synthetic_photos):
    server, repository = polled
    photo = sorted((synthetic_photos / "test").rglob("*.jpg"))[0]
    command = ["export", "--run", str(tiny_run), "--repository", str(repository), "--cpu-precision", "float32",
               "--allow-unproven"]
    served_after = []
    for step in itertools.count(1):
        result = run_cli(*command, env={repo.CRASH_AT_ENVIRONMENT: str(step)})
        if result.returncode == 0:  # past the last step: the export that was not killed
            break
        assert result.returncode == repo.CRASH_EXIT_CODE, result.stderr[-2000:]
        time.sleep(SETTLE_SECONDS)
        served = check_configs_on_disk(repository)
        wait_until_served(server, served)
        check_answers(server, repository, served, photo)
        served_after.append(served)
    print(f"killed after each of steps 1-{step - 1}: the embedded flavour served versions {served_after}")
    # Killed after moving its version in, an export leaves the old one served; killed
    # after the embedded flavour's config, its own.
    assert len(served_after) >= 2 and served_after[0] == 1 and served_after[1] == 3, served_after
    newest = int(result.stdout.split("exported version ")[1].split()[0])
    assert check_configs_on_disk(repository) == newest
    classifier = repository / CLASSIFIER
    assert {config_on_disk(config)[0] for config in classifier.rglob("*.pbtxt")} == {newest}
    wait_until_served(server, newest)
    check_answers(server, repository, newest, photo)
    assert not (repository.parent / f".{repository.name}.staging").exists()


def test_a_repository_serving_the_newest_is_pinned_before_a_version_is_added(tiny_repository, tmp_path):
    """A repository exported before every config named its version (`latest` policy):
    the next export first pins the version the configs describe, with their parameters."""
    repository = tmp_path / "repository"
    shutil.copytree(tiny_repository, repository)
    config = repository / CLASSIFIER / "config.pbtxt"
    parsed = repo.parse_config(config.read_text())
    parsed.version_policy.Clear()
    parsed.version_policy.latest.num_versions = 1
    config.write_text(text_format.MessageToString(parsed))
    described = config_on_disk(repository / CLASSIFIER / "configs" / f"{repo.GPU_ONNX_CONFIG}.pbtxt")[1]
    assert pin_served_version(repository / CLASSIFIER) == (1, described.image_size)
    assert config_on_disk(config) == (1, described)
    assert check_configs_on_disk(repository) == 1
