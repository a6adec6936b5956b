"""The deployment files. Every Kubernetes manifest is validated, offline, against the API's JSON
schemas with unknown fields rejected, and its wiring is checked: probes, affinity, selectors,
image, settings. docker-compose.yml cannot run here, so its shape is checked instead."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from drape.settings import Settings
from server.app import create_app
from tests.conftest import ROOT

K8S = Path(ROOT) / "deploy" / "k8s"
IMAGE = "drape:latest"
# The oldest Kubernetes release the manifests promise to work on, and the newest schemas known.
K8S_VERSIONS = ("1.30.0", latest_version())
# aiohttp's shutdown_timeout in server/__main__.py: SIGTERM to exit, at most.
WEB_SHUTDOWN_TIMEOUT = 15
SETTING_NAMES = {name.upper() for name in Settings.__dataclass_fields__} - {"EXTRA"}

Doc = dict[str, Any]


def load_documents() -> list[tuple[str, Doc]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


DOCS = load_documents()
RESOURCES = [(name, d) for name, d in DOCS if d["kind"] != "Kustomization"]


def one(kind: str, name: str | None = None) -> Doc:
    found = [d for _, d in RESOURCES if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def pod_spec(doc: Doc) -> Doc:
    spec: Doc = doc["spec"]["template"]["spec"]
    return spec


def containers(doc: Doc) -> list[Doc]:
    spec = pod_spec(doc)
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads() -> list[Doc]:
    return [d for _, d in RESOURCES if d["kind"] in {"Deployment", "Job"}]


def procfile() -> dict[str, list[str]]:
    lines = (Path(ROOT) / "Procfile").read_text().splitlines()
    return {n: cmd.split() for n, cmd in (line.split(":", 1) for line in lines if line.strip())}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_is_valid_kubernetes(version: str) -> None:
    kinds = sorted(d["kind"] for _, d in RESOURCES)
    assert kinds == sorted(
        [
            *("Namespace", "ConfigMap", "Secret", "Job", "Ingress", "PodDisruptionBudget"),
            *("Deployment", "Service", "HorizontalPodAutoscaler"),  # web
            *("Deployment", "HorizontalPodAutoscaler"),  # worker
        ]
    )
    errors = []
    for filename, doc in RESOURCES:
        where = f"{filename}: {doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{where}: {'.'.join(str(p) for p in e.path)}: {e.message}")
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "drape", where
    assert not errors, f"not valid for Kubernetes {version}:\n" + "\n".join(errors)


def test_validation_is_strict() -> None:
    """A misspelt field must fail, or the test above would pass on anything."""
    web = copy.deepcopy(one("Deployment", "drape-web"))
    web["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="livenesProbe"):
        kubernetes_validate.validate(web, latest_version(), strict=True)


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = [d for _, d in DOCS if d["kind"] == "Kustomization"]
    files = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files
    assert kustomization["namespace"] == "drape"
    assert [i["name"] for i in kustomization["images"]] == [IMAGE.split(":")[0]]


def test_web_probes_and_shutdown() -> None:
    web = one("Deployment", "drape-web")
    (container,) = pod_spec(web)["containers"]
    (port,) = container["ports"]
    assert port["containerPort"] == 8080 and port["name"] == "http"
    for probe, path in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # The probed paths are the app's own routes of those names.
    routes = create_app(Settings()).router.named_resources()
    assert routes["healthz"].canonical == "/healthz"
    assert routes["readyz"].canonical == "/readyz"
    # The load balancer stops sending during the preStop sleep, then SIGTERM; both fit.
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep" and int(sleep[1]) >= 5
    grace = pod_spec(web)["terminationGracePeriodSeconds"]
    assert grace == 30 and int(sleep[1]) + WEB_SHUTDOWN_TIMEOUT < grace


def test_worker_liveness_and_grace() -> None:
    worker = one("Deployment", "drape-worker")
    (container,) = pod_spec(worker)["containers"]
    probe = container["livenessProbe"]
    check = ["python", "-m", "arq", "--check", "workers.main.WorkerSettings"]
    assert probe["exec"]["command"] == check
    compose = yaml.safe_load((Path(ROOT) / "docker-compose.yml").read_text())
    assert compose["services"]["worker"]["healthcheck"]["test"] == ["CMD", *check]
    # The health key is rewritten every 30 s, so probing faster tells nothing new; a worker that
    # stops deletes the key shared by all, so one failure alone must not restart the others.
    assert probe["periodSeconds"] >= 30 and probe["failureThreshold"] >= 2
    job_timeout = int(one("ConfigMap")["data"].get("JOB_TIMEOUT", Settings.job_timeout))
    assert pod_spec(worker)["terminationGracePeriodSeconds"] > job_timeout


def test_web_service_ingress_and_scaling_point_at_the_web_pods() -> None:
    web = one("Deployment", "drape-web")
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert web["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = one("Service", "drape-web")
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"

    ingress = one("Ingress")
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 60
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 60
    backends = [
        p["backend"]["service"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]
    ]
    assert backends == [{"name": "drape-web", "port": {"name": port["name"]}}]

    pdb = one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for name in ("drape-web", "drape-worker"):
        hpa = one("HorizontalPodAutoscaler", name)
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert "replicas" not in one("Deployment", name)["spec"]  # the HPA owns it
        assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert one("HorizontalPodAutoscaler", "drape-web")["spec"]["minReplicas"] >= 2


def test_every_container_runs_the_image_with_known_settings() -> None:
    config, secret = one("ConfigMap"), one("Secret")
    sources = {
        ("configMapRef", config["metadata"]["name"]): set(config["data"]),
        ("secretRef", secret["metadata"]["name"]): set(secret["stringData"]),
    }
    uid = int(re.search(r"--uid (\d+)", (Path(ROOT) / "Dockerfile").read_text())[1])  # type: ignore[index]
    commands = {" ".join(c) for c in procfile().values()}
    for doc in workloads():
        spec = pod_spec(doc)
        where = doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] == uid, where
        assert spec["automountServiceAccountToken"] is False, where
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for c in containers(doc):
            at = f"{where}/{c['name']}"
            assert c["image"] == IMAGE, at
            assert " ".join(c["command"]) in commands, at
            names = {e["name"] for e in c.get("env", [])}
            for ref in c["envFrom"]:
                ((kind, target),) = ref.items()
                names |= sources[(kind, target["name"])]
            unknown = {n for n in names if n not in SETTING_NAMES and not n.startswith("AWS_")}
            assert not unknown, f"{at} sets {sorted(unknown)}, which no setting reads"
            context = c["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, at
            assert context["allowPrivilegeEscalation"] is False, at
            assert context["capabilities"]["drop"] == ["ALL"], at
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, at
            for bound in ("requests", "limits"):
                assert set(c["resources"][bound]) == {"cpu", "memory"}, at
    job = one("Job")
    assert job["spec"]["backoffLimit"] > 0 and job["spec"]["ttlSecondsAfterFinished"] > 0
    assert [c["command"] for c in containers(job)] == [procfile()["release"]]


def test_settings_from_the_manifests() -> None:
    """The placeholders fail closed; once replaced, every value parses into Settings."""
    env = {**one("ConfigMap")["data"], **one("Secret")["stringData"]}
    assert all(isinstance(v, str) for v in env.values())
    with pytest.raises(ValueError, match="JWT_SECRET"):
        Settings.from_env(env)
    settings = Settings.from_env({**env, "JWT_SECRET": "a-real-secret-" + "x" * 32})
    assert (settings.host, settings.port, settings.environment) == ("0.0.0.0", 8080, "production")
    assert settings.object_store_url.startswith("s3://") and settings.log_json is True


def test_compose_file_shape() -> None:
    compose = yaml.safe_load((Path(ROOT) / "docker-compose.yml").read_text())
    services: dict[str, Doc] = compose["services"]
    for name in ("postgres", "redis", "minio", "web", "worker"):
        test = services[name]["healthcheck"]["test"]
        assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"}, name
    web, worker, release = services["web"], services["worker"], services["release"]
    assert web["build"] == worker["build"] == release["build"]
    assert web["environment"] == worker["environment"] == release["environment"]
    unknown = {n for n in web["environment"] if n not in SETTING_NAMES and not n.startswith("AWS_")}
    assert not unknown
    jobs = procfile()
    assert (web["command"], worker["command"], release["command"]) == (
        jobs["web"],
        jobs["worker"],
        jobs["release"],
    )
    for name, service in services.items():
        for needed, how in service.get("depends_on", {}).items():
            assert needed in services, (name, needed)
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], (name, needed)
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in compose["volumes"], (name, volume)
