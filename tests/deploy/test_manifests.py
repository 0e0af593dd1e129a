"""The rendered Kubernetes overlays (deploy/k8s): offline validation and the platform's own rules.

Both overlays are rendered once per session by deploy/k8s/validate.sh --render (kustomize v5.8.2,
built once into ~/.cache/collections/bin). Each rule of deploy/k8s/checks.py is shown to hold on the
real output, and shown to fail when the thing it guards is removed from a copy of the documents.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from collections_events.testing import import_file

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")


checks = import_file(K8S / "checks.py", "deploy_k8s_checks")


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not (shutil.which("go") or (Path.home() / ".cache/collections/bin/kustomize-v5.8.2").exists()):
        pytest.fail("go is needed (once) to build kustomize v5.8.2")
    out = tmp_path_factory.mktemp("k8s")
    subprocess.run(
        [str(K8S / "validate.sh"), "--render"], check=True, env={**os.environ, "K8S_OUT": str(out)}, timeout=600
    )
    return {o: out / f"{o}.yaml" for o in OVERLAYS}


@pytest.fixture(scope="session")
def docs_by_overlay(rendered: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    return {o: checks.load_docs(p.read_text()) for o, p in rendered.items()}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def docs(docs_by_overlay: dict[str, list[dict[str, Any]]], overlay: str) -> list[dict[str, Any]]:
    return copy.deepcopy(docs_by_overlay[overlay])


def _deployment(docs: list[dict[str, Any]], svc: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == f"collections-{svc}")


def _main(docs: list[dict[str, Any]], svc: str) -> dict[str, Any]:
    container: dict[str, Any] = _deployment(docs, svc)["spec"]["template"]["spec"]["containers"][0]
    return container


# -- the real output passes ------------------------------------------------------------------------
def test_overlay_passes_every_check(docs: list[dict[str, Any]], overlay: str) -> None:
    assert checks.check_all(docs, prod=overlay == "prod") == []


def test_overlay_has_four_services_and_their_parts(docs: list[dict[str, Any]]) -> None:
    for kind in ("Deployment", "Service", "NetworkPolicy", "ScaledObject", "KafkaUser"):
        names = sorted(
            d["metadata"]["name"] for d in docs if d["kind"] == kind and d["metadata"]["name"] != "default-deny"
        )
        assert names == sorted(f"collections-{s}" for s in checks.SERVICES), kind


def test_core_kinds_pass_kubernetes_validate_strict(rendered: dict[str, Path], overlay: str, tmp_path: Path) -> None:
    core = [d for d in checks.load_docs(rendered[overlay].read_text()) if d["kind"] not in checks.CRD_KINDS]
    assert _kubernetes_validate(core, tmp_path) == (0, "")


def test_kubernetes_validate_strict_rejects_a_misspelt_field(docs: list[dict[str, Any]], tmp_path: Path) -> None:
    container = _main(docs, "ledger")
    container["readinesProbe"] = container.pop("readinessProbe")
    core = [d for d in docs if d["kind"] not in checks.CRD_KINDS]
    status, output = _kubernetes_validate(core, tmp_path)
    assert status != 0 and "readinesProbe" in output


def _kubernetes_validate(docs: list[dict[str, Any]], tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "core.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    exe = Path(sys.executable).with_name("kubernetes-validate")
    done = subprocess.run(
        [str(exe), "--strict", "--quiet", "-k", "1.33.0", str(path)], capture_output=True, text=True, timeout=300
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def test_config_map_holds_a_valid_platform_config(docs: list[dict[str, Any]]) -> None:
    from collections_events.config import PlatformConfig, parse_config

    config = parse_config(yaml.safe_load(checks.platform_config_text(docs)))
    assert isinstance(config, PlatformConfig)
    assert config.outreach.call_cap.calls == 7


def test_every_topic_read_or_written_has_a_kafka_topic(docs: list[dict[str, Any]]) -> None:
    need = checks.required_topics(docs)
    have = checks.kafka_topics(docs)
    assert "collections.rejected.v1" in need and "lender.clock.v1.dlq" in need
    assert set(need) <= set(have)


def test_topic_table_matches_the_services_subscriptions() -> None:
    """checks.READS is what each service's ServiceSpec subscribes to (for the services built so far)."""
    compared = 0
    for svc in checks.SERVICES:
        try:
            spec = importlib.import_module(f"collections_{svc}.adapters.spec").SPEC
        except ImportError:
            continue
        assert set(spec.topics) == set(checks.READS[svc]), svc
        compared += 1
    assert compared >= 1


def test_every_referenced_secret_is_documented_in_the_readme(docs: list[dict[str, Any]]) -> None:
    readme = (ROOT / "deploy" / "README.md").read_text()
    for name in checks.SECRETS:
        assert f"`{name}`" in readme, name


# -- and each check catches what it guards ---------------------------------------------------------
@pytest.mark.parametrize("probe", ["livenessProbe", "readinessProbe"])
def test_a_missing_probe_is_reported(docs: list[dict[str, Any]], probe: str) -> None:
    del _main(docs, "outreach")[probe]
    assert any(p.startswith("collections-outreach/outreach:") and probe in p for p in checks.check_all(docs))


def test_a_probe_on_the_wrong_path_is_reported(docs: list[dict[str, Any]]) -> None:
    _main(docs, "legal")["readinessProbe"]["httpGet"]["path"] = "/health"
    assert "collections-legal/legal: readinessProbe must GET /ready (has '/health')" in checks.check_containers(docs)


@pytest.mark.parametrize("resource", ["cpu", "memory"])
def test_a_missing_limit_is_reported(docs: list[dict[str, Any]], resource: str) -> None:
    del _main(docs, "ledger")["resources"]["limits"][resource]
    assert f"collections-ledger/ledger: no limits.{resource}" in checks.check_all(docs)


def test_an_init_container_without_limits_is_reported(docs: list[dict[str, Any]]) -> None:
    del _deployment(docs, "delinquency")["spec"]["template"]["spec"]["initContainers"][0]["resources"]["limits"]
    assert "collections-delinquency/migrate: no limits.cpu" in checks.check_containers(docs)


def test_a_missing_kafka_topic_is_reported(docs: list[dict[str, Any]]) -> None:
    docs[:] = [d for d in docs if not (d["kind"] == "KafkaTopic" and d["metadata"]["name"] == "collections.legal.v1")]
    problems = checks.check_all(docs)
    assert "topic collections.legal.v1: no KafkaTopic (used by legal, outreach)" in problems


def test_a_missing_dead_letter_topic_is_reported(docs: list[dict[str, Any]]) -> None:
    docs[:] = [d for d in docs if d["metadata"]["name"] != "lender.payments.v1.dlq"]
    assert "topic lender.payments.v1.dlq: no KafkaTopic (used by ledger, legal, outreach)" in checks.check_topics(docs)


def test_topics_follow_a_renamed_topic_in_the_config(docs: list[dict[str, Any]]) -> None:
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("collections-config"))
    cm["data"]["platform.yaml"] = cm["data"]["platform.yaml"].replace("clock: lender.clock.v1", "clock: eod.clock.v2")
    problems = checks.check_topics(docs)
    assert "topic eod.clock.v2: no KafkaTopic (used by delinquency, legal, outreach)" in problems


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["securityContext"].update(runAsNonRoot=False), "runAsNonRoot is not true"),
        (lambda c: c["securityContext"].update(readOnlyRootFilesystem=False), "readOnlyRootFilesystem is not true"),
        (lambda c: c["securityContext"]["capabilities"].update(drop=[]), "capabilities do not drop ALL"),
        (lambda c: c.update(image="registry.example.com/collections/collections-platform:latest"), "is not pinned"),
        (lambda c: c.update(image="registry.example.com/collections/collections-platform"), "is not pinned"),
    ],
)
def test_an_unsafe_container_is_reported(docs: list[dict[str, Any]], mutate: Any, expected: str) -> None:
    mutate(_main(docs, "ledger"))
    assert any(p.startswith("collections-ledger/ledger:") and expected in p for p in checks.check_containers(docs))


def test_a_digest_pins_an_image() -> None:
    assert checks.image_pinned("r.example/c@sha256:" + "a" * 64)
    assert checks.image_pinned("r.example:5000/c:0.1.0")
    assert not checks.image_pinned("r.example:5000/c")


def test_a_short_grace_period_is_reported(docs: list[dict[str, Any]]) -> None:
    _deployment(docs, "outreach")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 5
    assert "collections-outreach: terminationGracePeriodSeconds 5 < 15" in checks.check_containers(docs)


def test_a_missing_migration_is_reported(docs: list[dict[str, Any]]) -> None:
    del _deployment(docs, "legal")["spec"]["template"]["spec"]["initContainers"]
    assert "collections-legal: no init container running `collections-legal migrate`" in checks.check_containers(docs)


def test_a_bad_config_value_is_reported(docs: list[dict[str, Any]]) -> None:
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("collections-config"))
    cm["data"]["platform.yaml"] = cm["data"]["platform.yaml"].replace(
        "call_cap: {calls: 7, days: 7}", "call_cap: {calls: 7, days: 0}"
    )
    assert any("outreach.call_cap.days" in p for p in checks.check_config(docs))


def test_more_replicas_than_partitions_is_reported(docs: list[dict[str, Any]]) -> None:
    so = next(d for d in docs if d["kind"] == "ScaledObject" and d["metadata"]["name"] == "collections-delinquency")
    so["spec"]["maxReplicaCount"] = 100
    assert any(
        p.startswith("ScaledObject collections-delinquency: maxReplicaCount 100 >") for p in checks.check_scaling(docs)
    )


def test_a_deployment_without_network_policy_is_reported(docs: list[dict[str, Any]]) -> None:
    docs[:] = [d for d in docs if not (d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "collections-ledger")]
    assert checks.check_network(docs) == ["collections-ledger: no NetworkPolicy restricting its egress"]


def test_a_committed_secret_is_reported(docs: list[dict[str, Any]]) -> None:
    docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oops"}, "stringData": {"a": "b"}})
    assert "Secret oops is rendered: secrets are never committed" in checks.check_secrets(docs)


def test_custom_resources_are_validated_strictly(docs: list[dict[str, Any]]) -> None:
    topic = next(d for d in docs if d["kind"] == "KafkaTopic")
    topic["spec"]["partitons"] = 3
    so = next(d for d in docs if d["kind"] == "ScaledObject")
    so["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 500
    problems = checks.check_crds(docs)
    assert any("Additional properties are not allowed ('partitons'" in p for p in problems)
    assert any("triggers.0.metadata.lagThreshold: 500 is not of type 'string'" in p for p in problems)


def test_prod_rules_are_reported_on_dev(docs_by_overlay: dict[str, list[dict[str, Any]]]) -> None:
    problems = checks.check_prod(copy.deepcopy(docs_by_overlay["dev"]))
    assert "collections-ledger: no PodDisruptionBudget" in problems
    assert "collections-ledger: no topologySpreadConstraints" in problems
    assert "collections-ledger: fewer than 2 replicas" in problems


def test_a_missing_acl_is_reported(docs: list[dict[str, Any]]) -> None:
    user = next(d for d in docs if d["kind"] == "KafkaUser" and d["metadata"]["name"] == "collections-ledger")
    acls = user["spec"]["authorization"]["acls"]
    acls[:] = [a for a in acls if a["resource"].get("name") != "lender.payments.v1"]
    assert checks.check_acls(docs) == ["KafkaUser collections-ledger: no Read on topic lender.payments.v1"]
