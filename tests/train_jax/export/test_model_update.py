"""Model updates while clients screen (issue 15): a polling embedded Triton picks up a new
`cataract export`, a `cataract rollback` and a return to the newest, with closed loops of
requests running throughout over gRPC and HTTP, to the classifier and to the ensemble,
and not one request fails."""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from cataract_contract import MODEL_CARD, ServedParameters
from client.triton_client import CataractClient
from tests.helpers import run_cli, start_polled_server
from train_jax.errors import UserError
from train_jax.export import repository as repo
from train_jax.export.export import export
from train_jax.export.rollback import rollback

POLL_SECONDS = 1
SWITCH_DEADLINE_SECONDS = 180  # the new version's load and warm-up, on a CPU busy with the loops
STEADY_ANSWERS = 20  # answers from the expected version, in every tensor loop, before the next step
# An ensemble's answer names the ensemble's version, so the client labels it with the
# classifier's served version as it last read it from the config (INFO_MAX_AGE_SECONDS ago
# at most): an ensemble loop has caught up with a switch once one answer carries the new label.
LOOPS = [(protocol, transport) for protocol in ("grpc", "http") for transport in ("tensor", "bytes")]


class RequestLoop(threading.Thread):
    """Sends one photo, waits for the answer, sends again, until stopped: a closed loop.
    No retries, so that any failure shows. Keeps the version of every answer in order."""

    def __init__(self, url: str, protocol: str, transport: str, photo):
        super().__init__(daemon=True, name=f"{protocol}-{transport}")
        self.client = CataractClient(url, protocol, transport=transport, retries=0, timeout=60)
        self.photo, self.transport = photo, transport
        self.versions: list[str] = []
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                self.versions.append(self.client.predict(self.photo).model_version)
            except Exception as exc:  # every failure is the test's finding, whatever its kind
                self.failures.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.01)  # leaves the CPU to the export and the server's model loads
        self.client.close()

    def answered_since(self, start: int, version: str) -> int:
        return sum(1 for answered in self.versions[start:] if answered == version)


def wait_for_version(loops: list[RequestLoop], version: str) -> None:
    """Until every tensor loop (which reads the answering version from each answer) had
    STEADY_ANSWERS answers from `version`, and every ensemble loop an answer labelled with it."""
    marks = [len(loop.versions) for loop in loops]
    needed = {"tensor": STEADY_ANSWERS, "bytes": 1}
    deadline = time.monotonic() + SWITCH_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if all(loop.answered_since(mark, version) >= needed[loop.transport] for loop, mark in zip(loops, marks)):
            return
        time.sleep(0.2)
    raise AssertionError(f"version {version} not served within {SWITCH_DEADLINE_SECONDS} s: last answers "
                         f"{[loop.versions[-3:] for loop in loops]}, failures {[loop.failures[:2] for loop in loops]}")


def served_parameters(config: Path) -> ServedParameters:
    parsed = repo.parse_config(config.read_text())
    return ServedParameters.from_config({key: value.string_value for key, value in parsed.parameters.items()})


@pytest.fixture(scope="module")
def polled_repository(tiny_run, tmp_path_factory):
    """Version 1, served by a polling Triton; the update test adds the next versions."""
    server, repository = start_polled_server(tiny_run, tmp_path_factory.mktemp("polled"), POLL_SECONDS)
    yield server, repository
    server.stop()


@pytest.fixture(scope="module")
def two_versions(tiny_repository, tiny_run, tmp_path_factory) -> Path:
    """A repository of versions 1 and 2 (the newest served), for the rollback tests, which
    leave it as they found it: a copy of the session's one-version repository, exported again."""
    repository = tmp_path_factory.mktemp("two_versions") / "model_repository"
    shutil.copytree(tiny_repository, repository)
    export(tiny_run, repository, cpu_precision="float32", allow_unproven=True)
    return repository


@pytest.mark.server
def test_export_and_rollback_are_served_without_a_failed_request(polled_repository, tiny_run, synthetic_photos):
    server, repository = polled_repository
    photo = sorted((synthetic_photos / "test").rglob("*.jpg"))[0]
    loops = [RequestLoop(server.grpc_url if protocol == "grpc" else server.http_url, protocol, transport, photo)
             for protocol, transport in LOOPS]
    for loop in loops:
        loop.start()
    try:
        wait_for_version(loops, "1")
        export(tiny_run, repository, cpu_precision="float32", allow_unproven=True)  # version 2, while the loops run
        wait_for_version(loops, "2")
        assert rollback(repository, 1).pinned
        wait_for_version(loops, "1")
        assert not rollback(repository, None).pinned
        wait_for_version(loops, "2")
    finally:
        for loop in loops:
            loop.stopping.set()
        for loop in loops:
            loop.join(timeout=60)

    counts = {loop.name: len(loop.versions) for loop in loops}
    print(f"answers per loop {counts}, {sum(counts.values())} in all; failures "
          f"{sum(len(loop.failures) for loop in loops)}")
    assert [loop.failures for loop in loops] == [[]] * len(loops)
    for loop in loops:
        # In a closed loop each answer comes after the one before: once the new version
        # answers (or, in an ensemble loop, its label reaches the client), the old one never
        # does again, until the next switch.
        assert [version for version, _ in itertools.groupby(loop.versions)] == ["1", "2", "1", "2"], loop.name


def test_rollback_pins_a_version_with_its_own_card(two_versions):
    classifier = two_versions / repo.CLASSIFIER
    configs = (classifier / "config.pbtxt", *sorted((classifier / "configs").glob("*.pbtxt")))
    try:
        result = rollback(two_versions, 1)
        assert (result.version, result.pinned, result.card.version) == (1, True, 1)
        for config in configs:
            parsed = repo.parse_config(config.read_text())
            assert list(parsed.version_policy.specific.versions) == [1], config.name
            assert served_parameters(config) == result.card.to_parameters(), config.name
    finally:
        newest = rollback(two_versions, None)
    assert (newest.version, newest.pinned) == (2, False)
    for config in configs:
        assert list(repo.parse_config(config.read_text()).version_policy.specific.versions) == [2], config.name
        assert served_parameters(config) == newest.card.to_parameters(), config.name


def test_rollback_refuses_what_it_cannot_serve(two_versions, tmp_path):
    repository = two_versions
    before = {path: path.read_bytes() for path in repository.rglob("*.pbtxt")}
    missing = run_cli("rollback", "--repository", str(repository), "--to", "7")
    assert missing.returncode == 2
    assert "has no version 7: the versions are 1, 2" in missing.stderr
    # A version folder without a SavedModel (a copy gone wrong, say), in a copy of the
    # repository: the polling server would try to serve it.
    copy = tmp_path / "copy"
    shutil.copytree(repository, copy)
    (copy / repo.CLASSIFIER / "9").mkdir()
    with pytest.raises(UserError, match="no model.savedmodel: it is not a complete export"):
        rollback(copy, 9)
    assert {path: path.read_bytes() for path in repository.rglob("*.pbtxt")} == before, "a refused rollback changed a config"
    (tmp_path / "empty").mkdir()
    empty = run_cli("rollback", "--repository", str(tmp_path / "empty"), "--latest")
    assert empty.returncode == 2 and "holds no exported version" in empty.stderr
    with pytest.raises(UserError, match="does not exist: export a run there first"):
        rollback(tmp_path / "mistyped", None)
    assert not (tmp_path / "mistyped").exists()  # a mistyped path leaves no folder behind
    (tmp_path / "a_file").write_text("mine")
    with pytest.raises(UserError, match="is a file, not a model repository folder"):
        rollback(tmp_path / "a_file", None)


def test_rollback_refuses_a_card_that_lacks_a_field(two_versions, tmp_path):
    """A version exported before a field of the card existed cannot describe itself in the
    configs: rollback names the field and leaves the configs alone."""
    copy = tmp_path / "copy"
    shutil.copytree(two_versions, copy)
    card = copy / repo.CLASSIFIER / "1" / MODEL_CARD
    fields = json.loads(card.read_text())
    del fields["cpu_precision"]
    card.write_text(json.dumps(fields))
    before = {path: path.read_bytes() for path in copy.rglob("*.pbtxt")}
    with pytest.raises(UserError, match="lacks the field 'cpu_precision': re-export that run instead"):
        rollback(copy, 1)
    assert {path: path.read_bytes() for path in copy.rglob("*.pbtxt")} == before


def test_export_leaves_unchanged_configs_alone(two_versions):
    """A polling server reloads every model whose files change: an export rewrites only
    the classifier's configs, not the preprocess model's or the ensemble's."""
    repository = two_versions
    untouched = [path for path in repository.rglob("*") if path.is_file() and repo.CLASSIFIER not in path.parts
                 and not path.name.startswith(".")]
    stamps = {path: path.stat().st_mtime_ns for path in untouched}
    rollback(repository, 1)
    rollback(repository, None)
    assert {path: path.stat().st_mtime_ns for path in untouched} == stamps
