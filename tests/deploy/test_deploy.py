"""Deployment recipes, checked offline: every Kubernetes manifest against the API schemas
of the stated Kubernetes version (kubernetes-validate), and against what the product's own
command line accepts. No cluster runs here; a cluster is what shows they schedule."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import cataract_contract as contract
from tests.helpers import REPOSITORY
from serving.embedded import ServerOptions
from cataract_cli.main import build_parser
from train_jax.export import repository

KUBERNETES_VERSION = "1.33.0"  # the version the manifests are written for (README, Production)
DEPLOY = REPOSITORY / "deploy" / "kubernetes"
SERVING = DEPLOY / "serving"
OVERLAYS = {"onnx": repository.GPU_ONNX_CONFIG, "tensorflow": repository.GPU_TENSORFLOW_CONFIG,
            "object-store": repository.GPU_ONNX_CONFIG}
# Files kustomize reads that are not Kubernetes resources themselves.
NOT_RESOURCES = ("kustomization.yaml", "s3-repository.yaml", "tensorflow-flavour.yaml")


def resources(path: Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def rendered(overlay: str) -> dict[tuple[str, str], dict]:
    """An overlay as `kubectl kustomize` renders it, by (kind, name)."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (scripts/test.sh installs Debian's kubernetes-client)")
    result = subprocess.run(["kubectl", "kustomize", str(SERVING / "overlays" / overlay)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return {(document["kind"], document["metadata"]["name"]): document for document in yaml.safe_load_all(result.stdout)}


def manifests() -> list[Path]:
    return sorted(path for path in DEPLOY.rglob("*.yaml") if path.name not in NOT_RESOURCES)


@pytest.mark.parametrize("path", manifests(), ids=lambda path: str(path.relative_to(DEPLOY)))
def test_every_manifest_validates_against_the_kubernetes_api(path):
    found = resources(path)
    assert found, f"{path} holds no resource"
    for resource in found:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_rendered_overlay_validates_against_the_kubernetes_api(overlay):
    for resource in rendered(overlay).values():
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def container(resource: dict) -> dict:
    (only,) = resource["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize("overlay,config_name", sorted(OVERLAYS.items()))
def test_triton_serves_what_export_writes_on_the_ports_cataract_serve_uses(overlay, config_name, tiny_repository):
    stack = rendered(overlay)
    triton = container(stack[("Deployment", "cataract-triton")])
    arguments = dict(argument.removeprefix("--").split("=", 1) for argument in triton["args"])
    assert arguments["model-config-name"] == config_name
    assert (tiny_repository / contract.CLASSIFIER / "configs" / f"{config_name}.pbtxt").is_file()
    assert arguments["model-control-mode"] == "poll"  # exports are picked up without a restart
    defaults = ServerOptions(Path("."))
    ports = {port["name"]: port["containerPort"] for port in triton["ports"]}
    assert ports == {"http": defaults.http_port, "grpc": defaults.grpc_port, "metrics": defaults.metrics_port}
    service = stack[("Service", "cataract-triton")]
    assert {port["name"]: port["port"] for port in service["spec"]["ports"]} == ports
    for probe, path in (("startupProbe", "/v2/health/ready"), ("readinessProbe", "/v2/health/ready"),
                        ("livenessProbe", "/v2/health/live")):
        assert triton[probe]["httpGet"]["path"] == path and triton[probe]["httpGet"]["port"] == "http"
    startup = triton["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600, "room for TensorRT's first engine build"
    assert triton["resources"]["limits"]["nvidia.com/gpu"] >= 1
    assert stack[("PodDisruptionBudget", "cataract-triton")]["spec"]["minAvailable"] >= 1


def test_the_autoscaler_reads_the_queue_time_triton_reports(triton):
    stack = rendered("onnx")
    autoscaler = stack[("HorizontalPodAutoscaler", "cataract-triton")]["spec"]
    (metric,) = autoscaler["metrics"]
    rule = yaml.safe_load(stack[("ConfigMap", "cataract-prometheus-adapter-rules")]["data"]["rules.yaml"])["rules"][0]
    assert metric["pods"]["metric"]["name"] == rule["name"]["as"]
    assert autoscaler["minReplicas"] >= 2
    exposed = urllib.request.urlopen(triton.metrics_url, timeout=30).read().decode()
    for series in ("nv_inference_queue_duration_us", "nv_inference_request_success"):
        assert series in rule["metricsQuery"]
        assert f'{series}{{model="{contract.CLASSIFIER}"' in exposed, f"the embedded Triton exposes no {series}"


def test_only_the_dashboard_and_the_gateway_reach_triton_and_both_ask_for_a_login():
    stack = rendered("onnx")
    labels = {name: stack[("Deployment", name)]["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
              for name in ("cataract-triton", "cataract-dashboard", "cataract-gateway")}
    policy = stack[("NetworkPolicy", "cataract-triton")]["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == labels["cataract-triton"]
    api, metrics = policy["ingress"]
    allowed = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in api["from"]}
    assert allowed == {labels["cataract-dashboard"], labels["cataract-gateway"]}
    assert sorted(port["port"] for port in api["ports"]) == [8000, 8001]
    assert [port["port"] for port in metrics["ports"]] == [8002]

    parser = build_parser()
    for name, door in (("cataract-dashboard", "dashboard"), ("cataract-gateway", "gateway")):
        command = container(stack[("Deployment", name)])["command"]
        assert command[:2] == ["cataract", door]
        args = parser.parse_args(command[1:])  # every flag is one the command takes
        assert args.triton_url == "cataract-triton:8001" and args.credentials == "/secrets/users.json"
        volume = stack[("Deployment", name)]["spec"]["template"]["spec"]["volumes"][0]
        assert volume["secret"]["secretName"] == "cataract-credentials"
    ingress = stack[("Ingress", "cataract")]["spec"]
    backends = {rule["host"]: rule["http"]["paths"][0]["backend"]["service"]["name"] for rule in ingress["rules"]}
    assert sorted(backends.values()) == ["cataract-dashboard", "cataract-gateway"]
    assert set(ingress["tls"][0]["hosts"]) == set(backends), "TLS for every host"


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
