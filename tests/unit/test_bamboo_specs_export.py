"""Specs export: every construct the parser keeps survives `parse(to_yaml(plan))` unchanged."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from culm.domain.bamboo.specs import parse
from culm.domain.bamboo.specs_export import to_yaml, without_lines

SPECS = """\
---
version: 2
plan: {project-key: MARS, key: X, name: "X: y", description: "multi\\nline", enabled: false}
stages:
  - First: [J, K]
  - S: {manual: true, final: true, description: d, jobs: [Last]}
J:
  key: JJ
  description: the job
  tasks:
    - script:
        interpreter: shell
        scripts: ["a\\nb", "echo ${bamboo.x}", "  leading", "yes", "123", "- dash"]
        environment: A=b
        working-dir: sub
    - script: {file: run.sh, argument: "-x"}
    - script: echo one
    - test-parser: {type: junit, test-results: "**/*.xml"}
    - inject-variables: {file: v.txt, scope: RESULT, namespace: ns}
    - checkout: {force-clean-build: true, path: src}
    - clean
  final-tasks: [clean]
  requirements: [a.b, {os: linux}]
  docker: {image: "alpine:3", volumes: {/a: /b}}
  artifacts:
    - {name: out, pattern: "**/*.jar", location: build, shared: false, required: true}
    - {name: shared one, pattern: x}
K:
  tasks: [checkout]
Last:
  tasks:
    - artifact-download: {destination: dl, artifacts: [{name: shared one}]}
  artifact-subscriptions: [{artifact: shared one, destination: sub}]
variables: {a: "1", b.password: "s", empty: "", flag: "true"}
labels: [one, two]
triggers: [{cron: "0 0 * * *"}, polling]
branches: {create: for-new-branch, delete: {after-deleted-days: 7}}
notifications: [{events: [plan-failed], recipients: [committers]}]
other: {concurrent-build-plugin: 3}
"""


@pytest.mark.parametrize("text", [SPECS, "version: 2\nplan: {project-key: P, key: Q, name: q}\n"
                                         "stages: [{Only: [Job]}]\nJob: {tasks: [clean]}\n"])
def test_round_trip(text: str) -> None:
    for spec in parse(text):
        plan = SimpleNamespace(key=spec["key"], name=spec["name"], description=spec["description"],
                               enabled=spec["enabled"], spec=spec, labels=spec["labels"])
        code = to_yaml(SimpleNamespace(key=spec["projectKey"]), plan)  # type: ignore[arg-type]
        (back,) = parse(code)
        assert without_lines(back) == without_lines(spec), code
        again = to_yaml(SimpleNamespace(key=spec["projectKey"]), SimpleNamespace(  # type: ignore[arg-type]
            key=back["key"], name=back["name"], description=back["description"], enabled=back["enabled"],
            spec=back, labels=back["labels"]))
        assert again == code


def test_variables_override() -> None:
    (spec,) = parse(SPECS)
    plan = SimpleNamespace(key="X", name="n", description="", enabled=True, spec=spec, labels=[])
    code = to_yaml(SimpleNamespace(key="MARS"), plan, {"only": "this"})  # type: ignore[arg-type]
    assert parse(code)[0]["variables"] == {"only": "this"} and "labels" not in code
