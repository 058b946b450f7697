"""Deployment recipes, checked offline: every Kubernetes manifest against the API schemas
of the stated Kubernetes version (kubernetes-validate), against what the product's own
command line accepts, and against the hardening every pod needs (issue 22): non-root,
read-only roots, no privileges, no service-account tokens, pinned images, Triton's
restricted APIs, network policies. No cluster runs here; a cluster is what shows they
schedule."""

from __future__ import annotations

import functools
import importlib.metadata
import re
import shutil
import subprocess
import tomllib
import urllib.request
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import cataract_contract as contract
from tests.helpers import REPOSITORY
from serving.embedded import ServerOptions
from serving.runtime import RUNTIME_REQUIREMENTS
from cataract_cli.main import build_parser
from dashboards import app as dashboard
from train_jax.export import repository

KUBERNETES_VERSION = "1.33.0"  # the version the manifests are written for (README, Production)
DEPLOY = REPOSITORY / "deploy" / "kubernetes"
SCRIPTS = REPOSITORY / "scripts"
SERVING = DEPLOY / "serving"
TRAINING_JOB = DEPLOY / "training" / "train-job.yaml"
OVERLAYS = {"onnx": repository.GPU_ONNX_CONFIG, "tensorflow": repository.GPU_TENSORFLOW_CONFIG,
            "object-store": repository.GPU_ONNX_CONFIG}
# Everything that runs pods: each serving overlay as rendered, and the training Job.
STACKS = (*sorted(OVERLAYS), "training")
WORKLOADS = ("Deployment", "Job", "StatefulSet", "DaemonSet")
# Files kustomize reads that are not Kubernetes resources themselves.
NOT_RESOURCES = ("kustomization.yaml", "s3-repository.yaml", "tensorflow-flavour.yaml")
# Triton's APIs the doors never use, closed behind the admin header (item 7 of issue 22).
RESTRICTED_APIS = {"model-repository", "shared-memory", "logging", "trace"}
DOORS = ("cataract-dashboard", "cataract-gateway")
# The user NVIDIA's Triton images have (and start as root without): `triton-server`, uid 1000.
TRITON_IMAGE_USER = ("triton-server", 1000)
# The uid each workload's image runs as: its Dockerfile's USER (scripts/).
IMAGE_USERS = {"cataract-triton": TRITON_IMAGE_USER[1], "cataract-dashboard": 1000, "cataract-gateway": 1000,
               "cataract-train": 1000}


def resources(path: Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


@functools.cache
def rendered(overlay: str) -> dict[tuple[str, str], dict]:
    """An overlay as `kubectl kustomize` renders it, by (kind, name)."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (scripts/test.sh installs Debian's kubernetes-client)")
    result = subprocess.run(["kubectl", "kustomize", str(SERVING / "overlays" / overlay)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return {(document["kind"], document["metadata"]["name"]): document for document in yaml.safe_load_all(result.stdout)}


def applied(name: str) -> list[dict]:
    """The resources one of STACKS applies."""
    return resources(TRAINING_JOB) if name == "training" else list(rendered(name).values())


def pods(name: str) -> list[tuple[str, dict]]:
    """(workload name, pod spec) of every workload of a stack."""
    return [(resource["metadata"]["name"], resource["spec"]["template"]["spec"])
            for resource in applied(name) if resource["kind"] in WORKLOADS]


def containers(name: str) -> list[tuple[str, dict, dict]]:
    """(workload/container, container, pod spec) of every container of a stack, init ones included."""
    return [(f"{workload}/{one['name']}", one, pod) for workload, pod in pods(name)
            for one in (*pod.get("initContainers", ()), *pod["containers"])]


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
    for probe, path in (("startupProbe", "/v2/health/live"), ("readinessProbe", f"/v2/models/{contract.ENSEMBLE}/ready"),
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
    assert [port["port"] for port in api["ports"]] == [8001], "both doors speak gRPC only"
    assert [port["port"] for port in metrics["ports"]] == [8002]
    assert [peer["namespaceSelector"]["matchLabels"] for peer in metrics["from"]] == [
        {"kubernetes.io/metadata.name": "monitoring"}]

    parser = build_parser()
    for name, door in (("cataract-dashboard", "dashboard"), ("cataract-gateway", "gateway")):
        command = container(stack[("Deployment", name)])["command"]
        assert command[:2] == ["cataract", door]
        args = parser.parse_args(command[1:])  # every flag is one the command takes
        assert args.triton_url == "cataract-triton:8001" and args.credentials == "/secrets/users.json"
        volume = stack[("Deployment", name)]["spec"]["template"]["spec"]["volumes"][0]
        assert volume["secret"]["secretName"] == "cataract-credentials"
    ingresses = [resource["spec"] for (kind, _), resource in stack.items() if kind == "Ingress"]
    backends = {rule["host"]: rule["http"]["paths"][0]["backend"]["service"]["name"]
                for ingress in ingresses for rule in ingress["rules"]}
    assert sorted(backends.values()) == ["cataract-dashboard", "cataract-gateway"]
    assert {host for ingress in ingresses for tls in ingress["tls"] for host in tls["hosts"]} == set(backends), \
        "TLS for every host"


def test_training_job_runs_cataract_train_on_every_process_with_a_reachable_coordinator():
    service, job, _policy = resources(TRAINING_JOB)
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


# Hardening (issue 22, items 3, 6 and 7): each property on every pod of every stack.


def mounted_volume(container: dict, pod: dict, path: str) -> dict | None:
    """The pod's volume mounted at `path` in the container, if any."""
    names = [mount["name"] for mount in container.get("volumeMounts", ()) if mount["mountPath"] == path]
    return next((volume for volume in pod.get("volumes", ()) if volume["name"] in names), None)


@pytest.mark.parametrize("name", STACKS)
def test_every_pod_runs_as_a_user_that_is_not_root(name):
    for workload, pod in pods(name):
        context = pod.get("securityContext", {})
        assert context.get("runAsNonRoot") is True, f"{workload}: runAsNonRoot"
        assert context.get("runAsUser", 0) > 0, f"{workload}: a numeric user, not root"
    for where, container, _ in containers(name):
        context = container.get("securityContext", {})
        assert context.get("runAsUser", 1) != 0 and context.get("runAsNonRoot", True) is True, where


@pytest.mark.parametrize("name", STACKS)
def test_every_container_has_a_read_only_root_and_writes_only_to_volumes(name):
    for where, container, pod in containers(name):
        assert container.get("securityContext", {}).get("readOnlyRootFilesystem") is True, where
        tmp = mounted_volume(container, pod, "/tmp")
        assert tmp is not None and "emptyDir" in tmp, f"{where}: /tmp is an emptyDir"
        home = {variable["name"]: variable.get("value") for variable in container.get("env", ())}.get("HOME")
        if home is not None:
            assert mounted_volume(container, pod, home) is not None, f"{where}: HOME={home} is a volume"


@pytest.mark.parametrize("name", STACKS)
def test_no_container_can_gain_privileges_or_capabilities(name):
    for where, container, _ in containers(name):
        context = container.get("securityContext", {})
        assert context.get("allowPrivilegeEscalation") is False, where
        assert context.get("privileged", False) is False, where
        assert context.get("capabilities") == {"drop": ["ALL"]}, f"{where}: every capability dropped, none added"


@pytest.mark.parametrize("name", STACKS)
def test_every_pod_runs_under_the_runtime_default_seccomp_profile(name):
    for workload, pod in pods(name):
        assert pod.get("securityContext", {}).get("seccompProfile") == {"type": "RuntimeDefault"}, workload


@pytest.mark.parametrize("name", STACKS)
def test_no_pod_holds_a_service_account_token(name):
    """No pod of the product talks to the Kubernetes API."""
    for workload, pod in pods(name):
        assert pod.get("automountServiceAccountToken") is False, workload


def project_version() -> str:
    return tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["version"]


@pytest.mark.parametrize("name", STACKS)
def test_every_image_is_pinned_by_version_or_digest(name):
    for where, container, _ in containers(name):
        image = container["image"]
        if "@sha256:" in image:
            continue
        repository_name, _, tag = image.rpartition(":")
        assert "/" not in tag and tag and tag != "latest", f"{where}: {image} is pinned by a version tag"
        if repository_name.endswith(("/cataract-app", "/cataract-train")):  # built from this repository
            assert tag == project_version(), f"{where}: {image} is tagged with the project's version"


DOCKERFILES = ("app.Dockerfile", "train-gpu.Dockerfile", "triton-gpu.Dockerfile")


def dockerfile(name: str) -> list[str]:
    """A Dockerfile's instructions, one line each (continuations joined)."""
    return [line.strip() for line in (SCRIPTS / name).read_text().replace("\\\n", " ").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_image_is_built_from_a_pinned_base_and_runs_as_a_user_that_is_not_root(name):
    lines = dockerfile(name)
    arguments = dict(line.removeprefix("ARG ").split("=", 1) for line in lines if line.startswith("ARG ") and "=" in line)
    (base,) = [line.removeprefix("FROM ").strip() for line in lines if line.startswith("FROM ")]
    base = re.sub(r"\$\{(\w+)\}", lambda match: arguments[match.group(1)], base)
    assert re.fullmatch(r"[\w./-]+:(\d+\.\d+\.\d+-slim-\w+|\d{2}\.\d{2}-py3)|[\w./-]+@sha256:[0-9a-f]{64}", base), \
        f"{name}: FROM {base} names an exact release"
    users = [line.removeprefix("USER ").strip() for line in lines if line.startswith("USER ")]
    assert users, f"{name} sets no USER: the image starts as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"{name}: USER {users[-1]}"
    assert users[-1] == (TRITON_IMAGE_USER[0] if name == "triton-gpu.Dockerfile" else "1000:1000"), \
        f"{name}: the user its pods name (IMAGE_USERS)"


@pytest.mark.parametrize("name", STACKS)
def test_the_pods_run_as_the_users_their_images_set(name):
    for workload, pod in pods(name):
        assert pod["securityContext"]["runAsUser"] == IMAGE_USERS[workload], workload


def pins(name: str) -> dict[str, str]:
    """The `package==version` pins of a Dockerfile's pip installs."""
    text = " ".join(dockerfile(name))
    return {re.sub(r"\[.*\]", "", package).lower(): version
            for package, version in re.findall(r'"([A-Za-z0-9_.\-\[\],]+)==([^"]+)"', text)}


LOCK = REPOSITORY / "requirements.lock"
# What the lock leaves out (pip freeze does): the installers and the project itself.
NOT_LOCKED = {"pip", "setuptools", "wheel", "cataract-screening"}


def normalised(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def locked() -> dict[str, str]:
    """requirements.lock's version of each package."""
    lines = [line for line in LOCK.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return {normalised(name): version for name, version in (line.split("==", 1) for line in lines)}


def test_the_tests_run_on_the_lock_s_versions_and_the_lock_names_every_installed_package():
    installed = {normalised(dist.metadata["Name"]): dist.version.split("+")[0]  # +cpu: the lock drops build tags
                 for dist in importlib.metadata.distributions()}
    unlocked = sorted(set(installed) - set(locked()) - NOT_LOCKED)
    assert not unlocked, f"{unlocked} are installed but not in requirements.lock: run scripts/lock.sh"
    other = {name: (installed[name], version) for name, version in locked().items()
             if name in installed and installed[name] != version}
    assert not other, f"installed, locked: {other} (scripts/setup.sh installs through the lock)"


@pytest.mark.parametrize("name", ("app.Dockerfile", "train-gpu.Dockerfile"))
def test_the_python_images_install_at_the_lock_s_versions_only(name):
    lines = dockerfile(name)
    assert any(line.startswith("COPY ") and "requirements.lock" in line for line in lines), f"{name} copies no lock"
    installs = [command.strip() for line in lines if line.startswith("RUN ") for command in line[4:].split("&&")
                if "pip install" in command]
    assert installs, f"{name} installs nothing with pip"
    for command in installs:
        assert "--no-deps ." in command or "-c requirements.lock" in command, f"{name}: `{command}` is not constrained by the lock"
        assert not re.search(r"[=<>~!]=|[<>]", command.replace("-c requirements.lock", "")), \
            f"{name}: `{command}` names versions of its own; the lock names them"


def test_every_server_decodes_photos_with_the_lock_s_pillow():
    pillow = locked()["pillow"]
    assert pins("triton-gpu.Dockerfile") == {"pillow": pillow}, "the GPU Triton image's Pillow"
    assert all("==" in requirement for requirement in RUNTIME_REQUIREMENTS), "the embedded server's runtime is pinned"
    runtime = dict(requirement.split("==", 1) for requirement in RUNTIME_REQUIREMENTS)
    assert runtime["pillow"] == pillow, "the embedded server's runtime (serving/runtime.py)"


def restricted_groups(arguments: list[str], option: str) -> list[tuple[set[str], str, str]]:
    """(APIs, header, value) of each `--option=API,API:header=value` of Triton's command line."""
    groups = []
    for argument in arguments:
        if argument.startswith(f"--{option}="):
            apis, _, restriction = argument.split("=", 1)[1].partition(":")
            header, _, value = restriction.partition("=")
            groups.append((set(apis.split(",")), header, value))
    return groups


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_triton_closes_the_apis_the_doors_never_use_behind_a_secret_header(overlay):
    stack = rendered(overlay)
    triton = container(stack[("Deployment", "cataract-triton")])
    secrets = set()
    for option in ("grpc-restricted-protocol", "http-restricted-api"):
        (group,) = restricted_groups(triton["args"], option)
        apis, header, value = group
        assert apis == RESTRICTED_APIS, f"--{option}: health, metadata, inference and statistics stay open to the doors"
        assert header and re.fullmatch(r"\$\((\w+)\)", value), f"--{option}: the secret comes from the environment"
        variable = next(entry for entry in triton["env"] if entry["name"] == value[2:-1])
        secrets.add(variable["valueFrom"]["secretKeyRef"]["name"])
    (secret,) = secrets  # one admin key for both protocols
    for door in DOORS:  # the doors hold no key to the closed APIs
        assert secret not in yaml.safe_dump(stack[("Deployment", door)]), door


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_a_version_that_fails_to_load_leaves_triton_running_and_only_that_pod_unready(overlay):
    triton = container(rendered(overlay)[("Deployment", "cataract-triton")])
    arguments = dict(argument.removeprefix("--").split("=", 1) for argument in triton["args"])
    assert arguments["exit-on-error"] == "false", "a version TensorRT cannot build must not crash-loop every new pod"
    assert triton["readinessProbe"]["httpGet"]["path"] == f"/v2/models/{contract.ENSEMBLE}/ready"
    assert triton["startupProbe"]["httpGet"]["path"] == triton["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    comment = (SERVING / "base" / "triton.yaml").read_text()
    assert "--exit-on-error=false" in comment and "cataract rollback" in comment, "the manifest says how to recover"


def selects(policy: dict, labels: dict) -> bool:
    return policy["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()


@pytest.mark.parametrize("name", STACKS)
def test_every_pod_has_an_ingress_and_an_egress_policy(name):
    policies = [resource for resource in applied(name) if resource["kind"] == "NetworkPolicy"]
    for resource in applied(name):
        if resource["kind"] not in WORKLOADS:
            continue
        labels = {**resource["spec"]["template"]["metadata"]["labels"], "job-name": resource["metadata"]["name"]}
        types = {kind for policy in policies if selects(policy, labels) for kind in policy["spec"]["policyTypes"]}
        assert types == {"Ingress", "Egress"}, f"{resource['metadata']['name']}: policies for {types or 'nothing'}"


DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_each_door_takes_only_its_own_port_and_calls_only_tritons_grpc_port(overlay):
    stack = rendered(overlay)
    for door in DOORS:
        policy = stack[("NetworkPolicy", door)]["spec"]
        (port,) = container(stack[("Deployment", door)])["ports"]
        (ingress,) = policy["ingress"]
        assert ingress["ports"] == [{"protocol": "TCP", "port": port["containerPort"]}], door
        assert [peer["namespaceSelector"]["matchLabels"] for peer in ingress["from"]] == [
            {"kubernetes.io/metadata.name": "ingress-nginx"}], f"{door}: only through the ingress controller"
        to_triton, dns = policy["egress"]
        assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in to_triton["to"]] == [
            "cataract-triton"]
        assert to_triton["ports"] == [{"protocol": "TCP", "port": ServerOptions(Path(".")).grpc_port}], door
        assert dns["ports"] == DNS_PORTS, door
    triton_egress = [rule for (kind, _), policy in stack.items() if kind == "NetworkPolicy"
                     and selects(policy, {"app.kubernetes.io/name": "cataract-triton"})
                     for rule in policy["spec"].get("egress", ())]
    expected = [] if overlay != "object-store" else [{"to": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "kube-system"}}}], "ports": DNS_PORTS}, {"ports": [{"protocol": "TCP", "port": 443}]}]
    assert triton_egress == expected, "Triton calls nobody, but the object store where the repository lives"


def test_the_training_coordinator_is_reachable_only_from_the_jobs_own_pods():
    service, job, policy = resources(TRAINING_JOB)
    own = {"job-name": job["metadata"]["name"]}
    assert policy["kind"] == "NetworkPolicy" and policy["spec"]["podSelector"]["matchLabels"] == own
    coordinator = int(build_parser().parse_args(container(job)["command"][1:]).coordinator.rsplit(":", 1)[1])
    assert coordinator == service["spec"]["ports"][0]["port"]
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["from"] == [{"podSelector": {"matchLabels": own}}], "no other pod, namespace or address"
    assert "ports" not in ingress or coordinator in [port["port"] for port in ingress["ports"]]
    to_own, dns = policy["spec"]["egress"]
    assert to_own == {"to": [{"podSelector": {"matchLabels": own}}]} and dns["ports"] == DNS_PORTS


def test_dashboard_replicas_share_the_cookie_secret_and_the_ingress_keeps_a_browser_on_its_pod():
    stack = rendered("onnx")
    deployment = stack[("Deployment", "cataract-dashboard")]
    assert deployment["spec"]["replicas"] > 1
    dashboard_container = container(deployment)
    variable = next(entry for entry in dashboard_container["env"] if entry["name"] == dashboard.COOKIE_SECRET_ENVIRONMENT)
    reference = variable["valueFrom"]["secretKeyRef"]
    volume = next(volume for volume in deployment["spec"]["template"]["spec"]["volumes"] if "secret" in volume)
    assert reference["name"] == volume["secret"]["secretName"] == "cataract-credentials"
    instructions = (SERVING / "base" / "kustomization.yaml").read_text()
    assert f"--from-literal={reference['key']}=" in instructions, "the Secret's instructions create the cookie secret"
    (ingress,) = [resource for (kind, _), resource in stack.items() if kind == "Ingress"
                  and resource["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "cataract-dashboard"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert annotations["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-name"]
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-secure"] == "true"
