"""Checks over a rendered overlay (`kustomize build`) that kubernetes-validate cannot make.

    python deploy/k8s/checks.py RENDERED.yaml [--prod]

Prints one line per problem and exits 1 when there is any. tests/deploy/test_manifests.py runs the
same functions, and mutates the rendered documents to show that each check catches what it claims.

- every container (init ones too): requests and limits for cpu and memory, non-root, read-only root
  filesystem, no privilege escalation, all capabilities dropped, an image with a pinned tag or digest;
  every main container: liveness on /health and readiness on /ready; a grace period of at least
  MIN_GRACE_SECONDS; the migration init container `collections-<svc> migrate`;
- the platform ConfigMap passes the platform's own validation (collections_events.config.parse_config);
- every topic a service reads or writes (and `<read topic>.dlq`) has a KafkaTopic;
- each ScaledObject targets a Deployment, uses the service's consumer group, and has at most as many
  replicas as the partitions of the topics it reads;
- each Deployment is selected by a NetworkPolicy with egress rules; no Secret is rendered;
- custom resources (KafkaTopic, KafkaUser, ScaledObject, TriggerAuthentication) against the strict
  schemas in schemas/crds.yaml;
- with --prod: at least 2 replicas, a PodDisruptionBudget and topology spread constraints.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
MIN_GRACE_SECONDS = 15
"""The services stop within a few seconds of SIGTERM; the grace period must be well above that."""

SERVICES = ("ledger", "delinquency", "outreach", "legal")
READS: dict[str, tuple[str, ...]] = {
    "ledger": ("accounts", "billing", "payments", "outreach"),
    "delinquency": ("ledger", "clock"),
    "outreach": ("accounts", "clock", "delinquency", "results", "legal", "payments", "billing"),
    "legal": ("clock", "ledger", "delinquency", "accounts", "outreach", "payments"),
}
"""Topic keys each service consumes (their ServiceSpec subscriptions; tests cross-check the specs)."""
WRITES: dict[str, tuple[str, ...]] = {svc: (svc, "rejected") for svc in SERVICES}
"""Topic keys each service publishes to; it may also write `<read topic>.dlq`."""

SECRETS = {
    "collections-ledger-db": "database-url",
    "collections-delinquency-db": "database-url",
    "collections-outreach-db": "database-url",
    "collections-legal-db": "database-url",
    "collections-ledger": "password",
    "collections-delinquency": "password",
    "collections-outreach": "password",
    "collections-legal": "password",
    "collections-kafka-cluster-ca-cert": "ca.crt",
    "collections-keda-kafka": "username, password, ca",
}
"""Every Secret the manifests reference, with its keys (deploy/README.md, Secrets). None is committed."""

CRD_KINDS = {"KafkaTopic", "KafkaUser", "ScaledObject", "TriggerAuthentication"}
_PINNED = re.compile(r"^[^@\s]+?(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$")


def load_docs(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a rendered overlay."""
    return [d for d in yaml.safe_load_all(text) if d]


def _of_kind(docs: Iterable[dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    return (d for d in docs if d.get("kind") == kind)


def _name(doc: dict[str, Any]) -> str:
    return str(doc.get("metadata", {}).get("name", "?"))


def image_pinned(image: str) -> bool:
    """A tag other than `latest`, or a sha256 digest."""
    if not image or not _PINNED.match(image):
        return False
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and not last.endswith(":latest")


def _service_of(deployment: dict[str, Any]) -> str | None:
    name = _name(deployment)
    return name.removeprefix("collections-") if name.removeprefix("collections-") in SERVICES else None


def check_containers(docs: list[dict[str, Any]]) -> list[str]:
    """Probes, resources, security context, pinned images, grace period, migrations."""
    problems: list[str] = []
    for dep in _of_kind(docs, "Deployment"):
        name = _name(dep)
        pod = dep.get("spec", {}).get("template", {}).get("spec", {})
        pod_sc = pod.get("securityContext") or {}
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if grace < MIN_GRACE_SECONDS:
            problems.append(f"{name}: terminationGracePeriodSeconds {grace} < {MIN_GRACE_SECONDS}")
        containers = pod.get("containers") or []
        inits = pod.get("initContainers") or []
        if not containers:
            problems.append(f"{name}: no containers")
        for kind, items in (("container", containers), ("initContainer", inits)):
            for c in items:
                where = f"{name}/{c.get('name')}"
                problems += _container_problems(where, c, pod_sc, main=(kind == "container"))
        svc = _service_of(dep)
        if svc:
            commands = [c.get("command") for c in inits]
            if [f"collections-{svc}", "migrate"] not in commands:
                problems.append(f"{name}: no init container running `collections-{svc} migrate`")
            if [[f"collections-{svc}", "run"]] != [c.get("command") for c in containers]:
                problems.append(f"{name}: main container must run `collections-{svc} run`")
    return problems


def _container_problems(where: str, c: dict[str, Any], pod_sc: dict[str, Any], *, main: bool) -> list[str]:
    problems: list[str] = []
    resources = c.get("resources") or {}
    for part in ("requests", "limits"):
        for res in ("cpu", "memory"):
            if not (resources.get(part) or {}).get(res):
                problems.append(f"{where}: no {part}.{res}")
    sc = c.get("securityContext") or {}
    if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
        problems.append(f"{where}: runAsNonRoot is not true")
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        problems.append(f"{where}: runs as uid 0")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: allowPrivilegeEscalation is not false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        problems.append(f"{where}: capabilities do not drop ALL")
    if (sc.get("capabilities") or {}).get("add"):
        problems.append(f"{where}: adds capabilities")
    if not image_pinned(str(c.get("image", ""))):
        problems.append(f"{where}: image {c.get('image')!r} is not pinned (tag other than latest, or digest)")
    if main:
        for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
            got = ((c.get(probe) or {}).get("httpGet") or {}).get("path")
            if got != path:
                problems.append(f"{where}: {probe} must GET {path} (has {got!r})")
    return problems


def platform_config_text(docs: list[dict[str, Any]]) -> str:
    """The platform YAML held by the `collections-config*` ConfigMap. Raises LookupError if absent."""
    for cm in _of_kind(docs, "ConfigMap"):
        if _name(cm).startswith("collections-config"):
            data = cm.get("data") or {}
            if "platform.yaml" in data:
                return str(data["platform.yaml"])
    raise LookupError("no ConfigMap collections-config with key platform.yaml")


def check_config(docs: list[dict[str, Any]]) -> list[str]:
    """The ConfigMap's platform YAML passes parse_config, and COLLECTIONS_CONFIG points at it."""
    from collections_events.config import ConfigError, parse_config

    try:
        parse_config(yaml.safe_load(platform_config_text(docs)))
    except (LookupError, ConfigError, yaml.YAMLError) as exc:
        return [f"platform config: {exc}"]
    envs = [cm.get("data", {}) for cm in _of_kind(docs, "ConfigMap") if _name(cm).startswith("collections-env")]
    if not envs or envs[0].get("COLLECTIONS_CONFIG") != "/etc/collections/platform.yaml":
        return ["collections-env: COLLECTIONS_CONFIG must be /etc/collections/platform.yaml"]
    return []


def required_topics(docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Topic name -> services that read or write it, with names from the rendered platform config."""
    topics = _platform_config(docs).topics
    need: dict[str, set[str]] = {}
    for svc in SERVICES:
        for key in READS[svc]:
            need.setdefault(topics.name(key), set()).add(svc)
            need.setdefault(topics.name(key) + ".dlq", set()).add(svc)
        for key in WRITES[svc]:
            need.setdefault(topics.name(key), set()).add(svc)
    return need


def kafka_topics(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Topic name -> its KafkaTopic document."""
    return {str(t.get("spec", {}).get("topicName") or _name(t)): t for t in _of_kind(docs, "KafkaTopic")}


def check_topics(docs: list[dict[str, Any]]) -> list[str]:
    """Every topic a service reads or writes, and each read topic's .dlq, has a KafkaTopic."""
    try:
        need = required_topics(docs)
    except Exception as exc:  # the config check reports the cause
        return [f"topics: cannot read the platform config ({exc})"]
    have = kafka_topics(docs)
    return [
        f"topic {topic}: no KafkaTopic (used by {', '.join(sorted(users))})"
        for topic, users in sorted(need.items())
        if topic not in have
    ]


def check_scaling(docs: list[dict[str, Any]]) -> list[str]:
    """ScaledObjects: an existing target, the service's group, maxReplicaCount <= partitions read."""
    problems: list[str] = []
    deployments = {_name(d) for d in _of_kind(docs, "Deployment")}
    have = kafka_topics(docs)
    try:
        topics = _platform_config(docs).topics
    except Exception:  # the config check reports the cause
        return problems
    for so in _of_kind(docs, "ScaledObject"):
        name, spec = _name(so), so.get("spec", {})
        target = str(spec.get("scaleTargetRef", {}).get("name"))
        if target not in deployments:
            problems.append(f"ScaledObject {name}: target {target!r} is not a rendered Deployment")
        svc = target.removeprefix("collections-")
        for trig in spec.get("triggers", []):
            if trig.get("type") == "kafka" and trig.get("metadata", {}).get("consumerGroup") != target:
                problems.append(f"ScaledObject {name}: consumerGroup must be {target}")
        read = [topics.name(k) for k in READS.get(svc, ())]
        partitions = [int(have[t].get("spec", {}).get("partitions", 1)) for t in read if t in have]
        most = spec.get("maxReplicaCount", 100)
        if partitions and most > min(partitions):
            problems.append(
                f"ScaledObject {name}: maxReplicaCount {most} > {min(partitions)} partitions of the topics it reads"
            )
    return problems


def _platform_config(docs: list[dict[str, Any]]) -> Any:
    from collections_events.config import parse_config

    return parse_config(yaml.safe_load(platform_config_text(docs)))


def check_acls(docs: list[dict[str, Any]]) -> list[str]:
    """Each service's KafkaUser may read what it consumes and write what it publishes (and the .dlq)."""
    problems: list[str] = []
    try:
        topics = _platform_config(docs).topics
    except Exception:  # the config check reports the cause
        return problems
    users = {_name(u): u for u in _of_kind(docs, "KafkaUser")}
    for svc in SERVICES:
        user = users.get(f"collections-{svc}")
        if user is None:
            problems.append(f"collections-{svc}: no KafkaUser")
            continue
        granted: set[tuple[str, str, str]] = set()
        for acl in user.get("spec", {}).get("authorization", {}).get("acls", []):
            res = acl.get("resource", {})
            for op in acl.get("operations", []):
                granted.add((res.get("type"), res.get("name"), op))
        wanted = {("group", f"collections-{svc}", "Read")}
        wanted |= {("topic", topics.name(k), "Read") for k in READS[svc]}
        wanted |= {("topic", topics.name(k), "Write") for k in WRITES[svc]}
        wanted |= {("topic", topics.name(k) + ".dlq", "Write") for k in READS[svc]}
        problems += [
            f"KafkaUser collections-{svc}: no {op} on {kind} {name}" for kind, name, op in sorted(wanted - granted)
        ]
    return problems


def check_network(docs: list[dict[str, Any]]) -> list[str]:
    """Each Deployment's pods are selected by a NetworkPolicy that restricts egress."""
    problems: list[str] = []
    policies = list(_of_kind(docs, "NetworkPolicy"))
    for dep in _of_kind(docs, "Deployment"):
        labels = dep.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
        selecting = [
            p
            for p in policies
            if (match := p.get("spec", {}).get("podSelector", {}).get("matchLabels"))
            and all(labels.get(k) == v for k, v in match.items())
        ]
        if not any("Egress" in p["spec"].get("policyTypes", []) and p["spec"].get("egress") for p in selecting):
            problems.append(f"{_name(dep)}: no NetworkPolicy restricting its egress")
    return problems


def check_secrets(docs: list[dict[str, Any]]) -> list[str]:
    """No Secret is rendered; every Secret referenced is one deploy/README.md documents (SECRETS)."""
    problems = [f"Secret {_name(s)} is rendered: secrets are never committed" for s in _of_kind(docs, "Secret")]
    text = yaml.safe_dump_all(docs)
    refs = set(re.findall(r"secretName: (\S+)", text))
    for doc in docs:
        refs |= {m["name"] for m in _walk_keyed(doc, "secretKeyRef")}
        refs |= {m["name"] for m in _walk_keyed(doc, "secretTargetRef", many=True)}
    problems += [f"Secret {r} is referenced but not documented in checks.SECRETS" for r in sorted(refs - set(SECRETS))]
    return problems


def _walk_keyed(node: Any, key: str, *, many: bool = False) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield from (v if many else [v])
            else:
                yield from _walk_keyed(v, key, many=many)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_keyed(item, key, many=many)


def check_crds(docs: list[dict[str, Any]]) -> list[str]:
    """Custom resources against schemas/crds.yaml (strict); a CRD kind without a schema is an error."""
    import jsonschema

    schemas = yaml.safe_load((HERE / "schemas" / "crds.yaml").read_text())
    defs = schemas.pop("$defs")
    problems: list[str] = []
    for doc in docs:
        group = str(doc.get("apiVersion", ""))
        if "/" not in group or group.split("/")[0].endswith("k8s.io") or group.split("/")[0] in _CORE_GROUPS:
            continue
        key = f"{group}/{doc.get('kind')}"
        if key not in schemas:
            problems.append(f"{key} {_name(doc)}: no schema in deploy/k8s/schemas/crds.yaml")
            continue
        validator = jsonschema.Draft202012Validator({**schemas[key], "$defs": defs})
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            path = ".".join(str(p) for p in error.path)
            problems.append(f"{doc.get('kind')} {_name(doc)}: {path}: {error.message}")
    return problems


_CORE_GROUPS = {"apps", "batch", "policy", "autoscaling"}


def check_prod(docs: list[dict[str, Any]]) -> list[str]:
    """prod: 2+ replicas, a PodDisruptionBudget and topology spread constraints per Deployment."""
    problems: list[str] = []
    pdbs = [p.get("spec", {}).get("selector", {}).get("matchLabels", {}) for p in _of_kind(docs, "PodDisruptionBudget")]
    for dep in _of_kind(docs, "Deployment"):
        name, spec = _name(dep), dep.get("spec", {})
        if spec.get("replicas", 1) < 2:
            problems.append(f"{name}: fewer than 2 replicas")
        labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
        if not any(m and all(labels.get(k) == v for k, v in m.items()) for m in pdbs):
            problems.append(f"{name}: no PodDisruptionBudget")
        if not spec.get("template", {}).get("spec", {}).get("topologySpreadConstraints"):
            problems.append(f"{name}: no topologySpreadConstraints")
    for so in _of_kind(docs, "ScaledObject"):
        if so.get("spec", {}).get("minReplicaCount", 0) < 2:
            problems.append(f"ScaledObject {_name(so)}: minReplicaCount < 2 in prod")
    return problems


def check_all(docs: list[dict[str, Any]], *, prod: bool = False) -> list[str]:
    """Every check above; `prod` adds check_prod."""
    problems = (
        check_containers(docs)
        + check_config(docs)
        + check_topics(docs)
        + check_scaling(docs)
        + check_acls(docs)
        + check_network(docs)
        + check_secrets(docs)
        + check_crds(docs)
    )
    if prod:
        problems += check_prod(docs)
    return problems


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: checks.py RENDERED.yaml [--prod]", file=sys.stderr)
        return 2
    problems = check_all(load_docs(Path(argv[0]).read_text()), prod="--prod" in argv)
    for problem in problems:
        print(f"{argv[0]}: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
