"""Bamboo Specs YAML parsing: the normalised model and line-numbered errors for bad input."""

from __future__ import annotations

import pytest

from culm.domain.bamboo.specs import SpecsInvalid, parse

GOOD = """\
---
version: 2
plan:
  project-key: MARS
  key: ROCKET
  name: Build the rockets
stages:
  - Build the rocket stage:
    - Build
  - Ship:
      manual: true
      jobs: [Package]
  - Cleanup:
      final: true
      jobs:
        - Tidy
Build:
  tasks:
    - checkout
    - script:
        - mkdir -p falcon/red
        - echo wings > falcon/red/wings
    - test-parser:
        type: junit
        test-results: '**/junit/*.xml'
  final-tasks:
    - clean
  requirements:
    - isRocketFuel
    - os: linux
  artifacts:
    - name: Red rocket built
      pattern: falcon/red/wings
Package:
  key: PKG
  tasks:
    - artifact-download:
        artifacts:
          - name: Red rocket built
    - script:
        interpreter: SHELL
        file: ci/package.sh
    - inject-variables:
        file: out.properties
        scope: RESULT
Tidy:
  tasks:
    - script: echo done
variables:
  target: mars
  count: 3
labels: [Rocket, space]
triggers:
  - polling: 130
branches:
  create: for-new-branch
---
version: 2
plan: {project-key: MARS, key: LANDER, name: Lander}
stages:
  - Default: [Default Job]
Default Job:
  tasks: [clean]
"""


def test_good_specs_are_normalised() -> None:
    plans = parse(GOOD)
    assert [p["key"] for p in plans] == ["ROCKET", "LANDER"]
    rocket = plans[0]
    assert rocket["projectKey"] == "MARS" and rocket["name"] == "Build the rockets" and rocket["enabled"] is True
    assert [s["name"] for s in rocket["stages"]] == ["Build the rocket stage", "Ship", "Cleanup"]
    assert [(s["manual"], s["final"]) for s in rocket["stages"]] == [(False, False), (True, False), (False, True)]
    build = rocket["stages"][0]["jobs"][0]
    assert build["name"] == "Build" and build["key"] == "JOB1"
    assert [t["type"] for t in build["tasks"]] == ["checkout", "script", "test-parser"]
    assert build["tasks"][1]["scripts"] == ["mkdir -p falcon/red", "echo wings > falcon/red/wings"]
    assert build["final-tasks"][0]["type"] == "clean"
    assert build["requirements"] == [{"key": "isRocketFuel", "match": "EXISTS"},
                                     {"key": "os", "match": "EQUALS", "value": "linux"}]
    assert build["artifacts"][0]["shared"] is True and build["artifacts"][0]["pattern"] == "falcon/red/wings"
    pkg = rocket["stages"][1]["jobs"][0]
    assert pkg["key"] == "PKG" and pkg["tasks"][1]["file"] == "ci/package.sh"
    assert pkg["tasks"][2]["scope"] == "RESULT"
    assert rocket["variables"] == {"target": "mars", "count": "3"}
    assert rocket["labels"] == ["rocket", "space"]
    assert rocket["triggers"] == [{"polling": 130}] and rocket["branches"] == {"create": "for-new-branch"}
    assert plans[1]["stages"][0]["jobs"][0]["tasks"] == [{"type": "clean", "line": 63}]


def _errors(text: str) -> list[str]:
    with pytest.raises(SpecsInvalid) as info:
        parse(text)
    return [e.text() for e in info.value.errors]


HEAD = "version: 2\nplan:\n  project-key: P\n  key: K\n  name: N\nstages:\n  - S: [J]\n"


@pytest.mark.parametrize(("text", "expected"), [
    ("version: 2\nplan: [\n", "line 3: malformed YAML"),
    ("key: a\n\tbad: tab\n", "malformed YAML"),
    ("", "the specs define no plan"),
    ("- a\n- b\n", "line 1: the specs document must be a mapping"),
    ("plan: {project-key: P, key: K, name: N}\nstages:\n  - S: [J]\nJ: {tasks: [clean]}\n", "missing key 'version'"),
    ("version: 1\nplan: {project-key: P, key: K, name: N}\nstages: [{S: [J]}]\nJ: {tasks: [clean]}\n",
     "line 1: only specs 'version: 2'"),
    ("version: 2\nstages: [{S: [J]}]\n", "missing key 'plan'"),
    ("version: 2\nplan:\n  project-key: P\n  name: N\nstages: [{S: [J]}]\nJ: {tasks: [clean]}\n",
     "line 3: missing key 'key' in 'plan'"),
    ("version: 2\nplan: {project-key: p-1, key: K, name: N}\nstages: [{S: [J]}]\nJ: {tasks: [clean]}\n",
     "line 2: invalid project key 'p-1'"),
    ("version: 2\nplan: {project-key: P, key: k-1, name: N}\nstages: [{S: [J]}]\nJ: {tasks: [clean]}\n",
     "invalid plan key 'k-1'"),
    ("version: 2\nplan: {project-key: P, key: K, name: N, colour: red}\nstages: [{S: [J]}]\nJ: {tasks: [clean]}\n",
     "unknown key 'colour' in 'plan'"),
    (HEAD + "J:\n  tasks: [clean]\nbogus: 1\n", "line 10: unknown key 'bogus' (not a job of any stage)"),
    (HEAD + "J:\n  tasks: [clean]\n  colour: red\n", "line 10: unknown key 'colour' in job 'J'"),
    (HEAD, "line 7: job 'J' is listed in a stage but not defined"),
    (HEAD + "J:\n  artifacts: []\n", "line 9: missing key 'tasks' in job 'J'"),
    (HEAD + "J:\n  tasks:\n    - compile\n", "line 10: unknown task 'compile'"),
    (HEAD + "J:\n  tasks:\n    - script:\n        file: /etc/passwd\n", "line 11: script file '/etc/passwd'"),
    (HEAD + "J:\n  tasks:\n    - script:\n        file: ../x.sh\n", "must be a relative path"),
    (HEAD + "J:\n  tasks:\n    - script:\n        interpreter: SHELL\n", "line 11: a script task needs exactly one"),
    (HEAD + "J:\n  tasks:\n    - script:\n        interpreter: COBOL\n        scripts: [x]\n",
     "line 11: unknown interpreter 'COBOL'"),
    (HEAD + "J:\n  tasks:\n    - test-parser:\n        type: junit\n", "'test-parser' needs"),
    (HEAD + "J:\n  tasks:\n    - test-parser: {type: xunit, test-results: x}\n", "unknown test parser type"),
    (HEAD + "J:\n  tasks:\n    - inject-variables: {file: a, scope: GLOBAL}\n", "unknown scope 'GLOBAL'"),
    (HEAD + "J:\n  tasks: [clean]\n  artifacts:\n    - name: a\n", "line 11: an artifact needs 'name' and 'pattern'"),
    (HEAD + "J:\n  tasks: [clean]\n  artifacts:\n    - {name: a, pattern: x, shared: maybe}\n",
     "shared must be true or false"),
    (HEAD + "J:\n  tasks:\n    - artifact-download:\n        artifacts: [{name: nowhere}]\n",
     "line 11: job 'J' downloads unknown shared artifact 'nowhere'"),
    ("version: 2\nplan: {project-key: P, key: K, name: N}\nstages:\n  - S: [A, B]\n"
     "A:\n  tasks: [{artifact-download: {artifacts: [{name: b}]}}]\n  artifacts: [{name: a, pattern: x}]\n"
     "B:\n  tasks: [{artifact-download: {artifacts: [{name: a}]}}]\n  artifacts: [{name: b, pattern: y}]\n",
     "artifact dependency cycle: job 'A' downloads 'b'"),
    ("version: 2\nplan: {project-key: P, key: K, name: N}\nstages:\n  - S1: [A]\n  - S2: [B]\n"
     "A:\n  tasks: [{artifact-download: {artifacts: [{name: b}]}}]\n"
     "B:\n  tasks: [clean]\n  artifacts: [{name: b, pattern: y}]\n",
     "line 7: artifact dependency cycle: job 'A' downloads 'b'"),
    ("version: 2\nplan: {project-key: P, key: K, name: N}\nstages:\n  - S1: [A]\n  - S2: [A]\nA: {tasks: [clean]}\n",
     "line 5: job 'A' appears in more than one stage"),
    ("version: 2\nplan: {project-key: P, key: K, name: N}\nstages: []\n", "a plan needs at least one stage"),
    ("version: 2\nplan: {project-key: P, key: K, name: N}\nstages:\n  - S: {manual: yes please, jobs: [A]}\n"
     "A: {tasks: [clean]}\n", "manual must be true or false"),
    ("version: 2\nplan: {project-key: P, key: K, name: N}\nstages:\n  - S: {jobz: [A]}\nA: {tasks: [clean]}\n",
     "unknown key 'jobz' in stage 'S'"),
    ("version: 2\nplan: {project-key: P, key: K, name: N}\nplan: {project-key: P, key: K, name: N}\n",
     "line 3: duplicate key 'plan'"),
    (HEAD + "J: {tasks: [clean]}\nlabels: ['two words']\n", "invalid label 'two words'"),
    (HEAD + "J: {tasks: [clean]}\nvariables: {'bad name': 1}\n", "invalid variable name 'bad name'"),
    (HEAD + "J: {key: JX, tasks: [clean]}\n---\n" + HEAD + "J: {tasks: [clean]}\n", "plan P-K is defined twice"),
    ("version: 2\ndeployment: {name: D}\n", "deployment projects are not supported yet"),
    ("version: 2\nplan: {project-key: P, key: K, name: \"a\\0b\"}\nstages: [{S: [J]}]\nJ: {tasks: [clean]}\n",
     "NUL"),
])
def test_bad_specs_are_rejected_with_line(text: str, expected: str) -> None:
    errors = _errors(text)
    assert any(expected in e for e in errors), errors


def test_all_errors_reported_together() -> None:
    errors = _errors(HEAD + "J:\n  tasks: [compile]\n  colour: red\nother-job: {}\n")
    assert len(errors) >= 3


def test_alias_bomb_and_recursive_anchor_are_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i, name in enumerate("bcdefg"):
        prev = "abcdefg"[i]
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    assert any("too large" in e for e in _errors(HEAD + "J: {tasks: [clean]}\nother:\n  " +
                                                 bomb.replace("\n", "\n  ")))
    assert any("too large" in e for e in _errors(HEAD + "J: {tasks: [clean]}\nother: &r [*r]\n"))


def test_anchors_are_allowed() -> None:
    text = HEAD.replace("[J]", "[J, K]") + "J: &job {tasks: [clean]}\nK: *job\n"
    plans = parse(text)
    assert [j["name"] for j in plans[0]["stages"][0]["jobs"]] == ["J", "K"]
