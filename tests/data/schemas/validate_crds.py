#!/usr/bin/env python3
"""Validate custom resources against vendored CRD openAPIV3Schemas (see README.md).

Reads a JSON list of Kubernetes objects on stdin (tests/deploy.rs renders the kustomization and
converts it). Objects whose apiVersion/kind has a schema here are validated; every other
non-built-in kind is an error, so a new CRD kind cannot slip through unvalidated. Built-in kinds
(no dot in the API group) are skipped: kubernetes-validate checks those.
Exit 0 when all pass; otherwise prints one line per problem and exits 1.
"""
import json
import pathlib
import sys

import jsonschema

HERE = pathlib.Path(__file__).resolve().parent
SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_scaledobject.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_v1alpha1_triggerauthentication.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_v1_servicemonitor.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_v1_prometheusrule.json",
}


def strict(schema):
    """Like --validate=strict: objects with declared properties accept no others."""
    if isinstance(schema, dict):
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema = dict(schema, additionalProperties=False)
        return {k: strict(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def main():
    objects = json.load(sys.stdin)
    problems = []
    checked = 0
    for obj in objects:
        api, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        name = obj.get("metadata", {}).get("name", "?")
        group = api.split("/")[0] if "/" in api else ""
        if "." not in group or group.endswith(".k8s.io"):
            continue  # built-in (core, apps, ..., networking.k8s.io, policy)
        file = SCHEMAS.get((api, kind))
        if file is None:
            problems.append(f"{kind}/{name}: no vendored schema for {api} {kind}")
            continue
        schema = strict(json.loads((HERE / file).read_text()))
        schema["properties"]["metadata"] = {"type": "object"}
        validator = jsonschema.Draft7Validator(schema)
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
            path = ".".join(str(p) for p in error.path) or "(root)"
            problems.append(f"{kind}/{name}: {path}: {error.message}")
        checked += 1
    for p in problems:
        print(p)
    print(f"validate_crds: {checked} custom resource(s) checked, {len(problems)} problem(s)", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
