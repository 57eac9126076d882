"""Bamboo Specs YAML regenerated from a plan's normalised spec: `parse(to_yaml(spec))` gives the spec back
(apart from source line numbers), so an exported plan re-imports to the same plan."""

from __future__ import annotations

from typing import Any

import yaml

from culm.domain.bamboo.models import BambooPlan, BambooProject

EXTRAS = ("triggers", "branches", "notifications", "dependencies", "plan-permissions", "repositories", "other")


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as literal blocks (scripts stay readable)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) and "\r" not in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _task(task: dict[str, Any]) -> Any:
    kind = task["type"]
    body = {k: v for k, v in task.items() if k not in ("type", "line")}
    if kind == "script":
        out: dict[str, Any] = {"interpreter": body.get("interpreter", "SHELL")}
        if body.get("file") is not None:
            out["file"] = body["file"]
        else:
            out["scripts"] = list(body.get("scripts", []))
        for opt in ("argument", "description", "environment", "working-dir", "conditions"):
            if body.get(opt) is not None:
                out[opt] = body[opt]
        return {"script": out}
    if kind == "test-parser":
        return {"test-parser": {"type": body.get("parser"), "test-results": list(body.get("test-results", []))}}
    if kind == "artifact-download":
        return {"artifact-download": {"destination": body.get("destination", ""),
                                      "artifacts": [{"name": a["name"]} for a in body.get("artifacts", [])]}}
    if kind == "inject-variables":
        return {"inject-variables": {"file": body.get("file"), "scope": body.get("scope", "LOCAL"),
                                     "namespace": body.get("namespace", "inject")}}
    return {kind: body} if body else kind  # checkout, clean


def _requirement(req: dict[str, Any]) -> Any:
    return req["key"] if req.get("match") == "EXISTS" else {req["key"]: req.get("value", "")}


def _job(job: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"key": job["key"]}
    if job.get("description"):
        out["description"] = job["description"]
    out["tasks"] = [_task(t) for t in job.get("tasks", [])]
    if job.get("final-tasks"):
        out["final-tasks"] = [_task(t) for t in job["final-tasks"]]
    if job.get("artifacts"):
        out["artifacts"] = [{"name": a["name"], "pattern": a["pattern"], "location": a.get("location", ""),
                             "shared": a.get("shared", True), "required": a.get("required", False)}
                            for a in job["artifacts"]]
    if job.get("requirements"):
        out["requirements"] = [_requirement(r) for r in job["requirements"]]
    if job.get("artifact-subscriptions"):
        out["artifact-subscriptions"] = [{"artifact": s["name"], "destination": s.get("destination", "")}
                                         for s in job["artifact-subscriptions"]]
    if "docker" in job:
        out["docker"] = job["docker"]
    return out


def to_document(project: BambooProject, plan: BambooPlan, variables: dict[str, str] | None = None
                ) -> dict[str, Any]:
    """`variables`: the plan's current variables (default: those of its spec)."""
    spec = plan.spec or {}
    doc: dict[str, Any] = {"version": 2, "plan": {"project-key": project.key, "key": plan.key, "name": plan.name}}
    if plan.description:
        doc["plan"]["description"] = plan.description
    doc["plan"]["enabled"] = bool(plan.enabled)
    stages = []
    for stage in spec.get("stages", []):
        jobs = [j["name"] for j in stage.get("jobs", [])]
        if stage.get("manual") or stage.get("final") or stage.get("description"):
            opts: dict[str, Any] = {"manual": bool(stage.get("manual")), "final": bool(stage.get("final"))}
            if stage.get("description"):
                opts["description"] = stage["description"]
            opts["jobs"] = jobs
            stages.append({stage["name"]: opts})
        else:
            stages.append({stage["name"]: jobs})
    doc["stages"] = stages
    for stage in spec.get("stages", []):
        for job in stage.get("jobs", []):
            doc[job["name"]] = _job(job)
    variables = dict(spec.get("variables", {})) if variables is None else variables
    if variables:
        doc["variables"] = variables
    labels = list(plan.labels or [])
    if labels:
        doc["labels"] = labels
    for extra in EXTRAS:
        if extra in spec:
            doc[extra] = spec[extra]
    return doc


def to_yaml(project: BambooProject, plan: BambooPlan, variables: dict[str, str] | None = None) -> str:
    return "---\n" + yaml.dump(to_document(project, plan, variables), Dumper=_Dumper, sort_keys=False,
                               allow_unicode=True, default_flow_style=False, width=1000)


def without_lines(value: Any) -> Any:
    """The spec without the `line` bookkeeping (for comparing an export with its re-import)."""
    if isinstance(value, dict):
        return {k: without_lines(v) for k, v in value.items() if k != "line"}
    if isinstance(value, list):
        return [without_lines(v) for v in value]
    return value
