"""Deployment recipes, checked offline: every Kubernetes manifest against the API schemas
of the stated Kubernetes version (kubernetes-validate), and against what the product's own
command line accepts. No cluster runs here; a cluster is what shows they schedule."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from conftest import REPOSITORY
from train_jax.cli import build_parser

KUBERNETES_VERSION = "1.33.0"  # the version the manifests are written for (README, Production)
DEPLOY = REPOSITORY / "deploy" / "kubernetes"


def resources(path: Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda path: str(path.relative_to(DEPLOY)))
def test_every_manifest_validates_against_the_kubernetes_api(path):
    found = resources(path)
    assert found, f"{path} holds no resource"
    for resource in found:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_training_job_runs_cataract_train_on_every_process_with_a_reachable_coordinator():
    service, job = resources(DEPLOY / "training" / "train-job.yaml")
    assert (service["kind"], job["kind"]) == ("Service", "Job")
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    (container,) = pod["containers"]
    command = container["command"]
    assert command[:2] == ["cataract", "train"]
    args = build_parser().parse_args(command[1:])  # every flag is one `cataract train` takes
    assert args.num_processes == spec["completions"] and args.process_id is None  # from JOB_COMPLETION_INDEX
    host, port = args.coordinator.split(":")
    # Pod 0 of an indexed Job, named through the headless Service: <job>-0.<subdomain>.
    assert host == f"{job['metadata']['name']}-0.{pod['subdomain']}"
    assert service["spec"]["clusterIP"] == "None" and service["metadata"]["name"] == pod["subdomain"]
    assert service["spec"]["selector"] == {"job-name": job["metadata"]["name"]}
    assert int(port) == service["spec"]["ports"][0]["port"] == container["ports"][0]["containerPort"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] >= 1
