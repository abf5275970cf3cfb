#!/usr/bin/env python3
"""Write the JSON schemas kubeconform needs, offline, into the directory given as argument.

Reads a JSON list of Kubernetes objects on stdin (tests/deploy.rs and tests/helm.rs render them).
- Built-in kinds: the Kubernetes OpenAPI schemas shipped by the PyPI package kubernetes-validate
  (strict variant: unknown fields rejected). Those files `$ref` one shared `/api/_definitions.json`,
  which kubeconform cannot resolve, so each kind is written standalone with the definitions it
  reaches, as <kind><-group><-version>.json (kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}).
- Custom resources: the CRD schemas in this directory (see README.md), made strict like
  validate_crds.py does, as {{ .Group }}_{{ .ResourceAPIVersion }}_{{ .ResourceKind }}.json.
A kind with no schema gets no file, so kubeconform reports "could not find schema" and fails.
Prints the Kubernetes version of the built-in schemas (for -kubernetes-version).
"""
import json
import pathlib
import sys

import kubernetes_validate

import validate_crds

K8S_VERSION = "1.37.0"
HERE = pathlib.Path(__file__).resolve().parent
BUILTIN = (pathlib.Path(kubernetes_validate.__file__).parent
           / "kubernetes-json-schema" / f"v{K8S_VERSION}-local-strict")
REF_PREFIX = "/api/_definitions.json#/$defs/"


def refs(node, out):
    if isinstance(node, dict):
        ref = node.get("$ref")
        # The kinds' files point into _definitions.json; definitions point at each other locally.
        for prefix in (REF_PREFIX, "#/$defs/"):
            if isinstance(ref, str) and ref.startswith(prefix):
                out.add(ref[len(prefix):])
        for value in node.values():
            refs(value, out)
    elif isinstance(node, list):
        for value in node:
            refs(value, out)


def local(node):
    if isinstance(node, dict):
        return {k: ("#/$defs/" + v[len(REF_PREFIX):] if k == "$ref" and isinstance(v, str)
                    and v.startswith(REF_PREFIX) else local(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [local(v) for v in node]
    return node


def main():
    out_dir = pathlib.Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    objects = json.load(sys.stdin)
    definitions = None
    for obj in objects:
        api, kind = obj["apiVersion"], obj["kind"]
        group, _, version = api.rpartition("/")
        if "." in group and not group.endswith(".k8s.io"):
            file = validate_crds.SCHEMAS.get((api, kind))
            if file:
                schema = validate_crds.strict(json.loads((HERE / file).read_text()))
                schema["properties"]["metadata"] = {"type": "object"}
                name = f"{group}_{version}_{kind.lower()}.json"
                (out_dir / name).write_text(json.dumps(schema))
            continue
        suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
        name = f"{kind.lower()}{suffix}.json"
        source = BUILTIN / name
        if not source.exists() or (out_dir / name).exists():
            continue
        if definitions is None:
            definitions = json.loads((BUILTIN / "_definitions.json").read_text())["$defs"]
        schema = json.loads(source.read_text())
        needed, todo = {}, set()
        refs(schema, todo)
        while todo:
            ref = todo.pop()
            if ref in needed:
                continue
            needed[ref] = definitions[ref]
            found = set()
            refs(needed[ref], found)
            todo |= found - needed.keys()
        schema = local(schema)
        schema.pop("$id", None)  # an absolute id would make kubeconform resolve refs against it
        schema["$defs"] = {k: local(v) for k, v in needed.items()}
        (out_dir / name).write_text(json.dumps(schema))
    print(K8S_VERSION)


if __name__ == "__main__":
    main()
