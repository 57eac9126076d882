"""Bamboo representations: one dict per entity, written as JSON or as Bamboo's XML (identity scalars as
attributes, other fields as child elements, lists as repeated elements named by the singular)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from starlette.requests import Request
from starlette.responses import Response

from culm.api.urls import base_url
from culm.domain.bamboo.models import BambooPlan, BambooProject
from culm.domain.bamboo.variables import MASK, is_secret

_WRAPPER = {"expand", "size", "start-index", "max-result"}
ATTRIBUTES: dict[str, set[str]] = {
    "link": {"href", "rel"},
    "plan": {"expand", "key", "name", "shortName", "shortKey", "type", "enabled"},
    "project": {"expand", "key", "name"},
    "label": {"name"},
    "stage": {"name"},
}
ROOT = "/bamboo/rest/api/latest"
# Entities with a `size` (or `expand`) field of their own that is a child element, not a list attribute.
NOT_WRAPPERS = {"artifact"}


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.endswith(".json"):
        return True
    if path.endswith(".xml"):
        return False
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "application/xml" not in accept.split("application/json")[0]


def strip_suffix(value: str) -> str:
    for suffix in (".json", ".xml"):
        if value.endswith(suffix):
            return value[: -len(suffix)]
    return value


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _element(name: str, data: Any, parent: ET.Element | None,
             attributes: dict[str, set[str]] | None = None, not_wrappers: set[str] = NOT_WRAPPERS) -> ET.Element:
    """`data` as element `name`: the scalar keys `attributes` names (and paging keys, unless `name` is one of
    `not_wrappers`) as XML attributes, everything else as child elements."""
    attributes = ATTRIBUTES if attributes is None else attributes
    elem = ET.Element(name) if parent is None else ET.SubElement(parent, name)
    if not isinstance(data, dict):
        elem.text = "" if data is None else _text(data)
        return elem
    attrs = attributes.get(name, set()) | (set() if name in not_wrappers else _WRAPPER)
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, list):
            for item in value:
                _element(key, item, elem, attributes, not_wrappers)
        elif isinstance(value, dict):
            _element(key, value, elem, attributes, not_wrappers)
        elif key in attrs:
            elem.set(key, _text(value))
        else:
            _element(key, value, elem, attributes, not_wrappers)
    return elem


def respond(request: Request, root: str, data: dict[str, Any], status: int = 200,
            attributes: dict[str, set[str]] | None = None) -> Response:
    """`attributes` replaces ATTRIBUTES for entities whose XML attribute names differ (build results)."""
    if wants_json(request):
        import json

        return Response(json.dumps(data), status_code=status, media_type="application/json")
    tree = _element(root, data, None, attributes)
    body = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + ET.tostring(tree)
    return Response(body, status_code=status, media_type="application/xml")


def link(request: Request, path: str) -> dict[str, str]:
    return {"href": f"{base_url(request)}{ROOT}/{path}", "rel": "self"}


def collapsed(size: int) -> dict[str, int]:
    return {"size": size, "start-index": 0, "max-result": size}


def collection(item: str, items: list[dict[str, Any]], size: int, start: int, max_result: int) -> dict[str, Any]:
    return {"size": size, "expand": item, "start-index": start, "max-result": max_result, item: items}


def expands(request: Request) -> set[str]:
    """The expand paths asked for, with every prefix (`a.b.c` also asks for `a` and `a.b`)."""
    out: set[str] = set()
    for part in request.query_params.get("expand", "").split(","):
        bits = [b for b in part.strip().split(".") if b]
        for i in range(1, len(bits) + 1):
            out.add(".".join(bits[:i]))
    return out


def project_json(request: Request, project: BambooProject) -> dict[str, Any]:
    return {"key": project.key, "name": project.name, "description": project.description,
            "link": link(request, f"project/{project.key}")}


def plan_json(request: Request, project: BambooProject, plan: BambooPlan, wanted: set[str],
              prefix: str = "", favourite: bool = False,
              branch_items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A plan; `wanted` holds expand paths relative to this plan after `prefix`; `favourite`: starred by the
    caller; `branch_items`: its plan branches, rendered."""
    full = f"{project.key}-{plan.key}"

    def asked(name: str) -> bool:
        return f"{prefix}{name}" in wanted

    spec = plan.spec or {}
    stages = spec.get("stages", [])
    variables = spec.get("variables", {})
    out: dict[str, Any] = {
        "expand": "actions,stages,branches,variableContext",
        "projectKey": project.key, "projectName": project.name,
        "project": project_json(request, project),
        "description": plan.description,
        "shortName": plan.name, "buildName": plan.name, "shortKey": plan.key,
        "type": "chain_branch" if plan.master_id else "chain", "enabled": plan.enabled,
        "link": link(request, f"plan/{full}"),
        "isFavourite": favourite, "isActive": False, "isBuilding": False, "averageBuildTimeInSeconds": 0,
        "actions": collection("action", [], 0, 0, 0) if asked("actions") else collapsed(0),
        "stages": collapsed(len(stages)),
        "branches": collection("branch", branch_items or [], len(branch_items or []), 0, len(branch_items or []))
        if asked("branches") else collapsed(len(branch_items or [])),
        "variableContext": collapsed(len(variables)),
        "key": full, "name": f"{project.name} - {plan.name}",
        "planKey": {"key": full},
    }
    if asked("stages"):
        out["stages"] = collection("stage", [_stage_json(request, full, i, s, asked("stages.stage.plans"))
                                             for i, s in enumerate(stages)], len(stages), 0, len(stages))
    if asked("variableContext"):
        items = [{"key": k, "value": MASK if is_secret(k) else v, "isPassword": is_secret(k)}
                 for k, v in variables.items()]
        out["variableContext"] = collection("variable", items, len(items), 0, len(items))
    return out


def _stage_json(request: Request, plan_key: str, index: int, stage: dict[str, Any], with_jobs: bool) -> dict[str, Any]:
    jobs = stage.get("jobs", [])
    out: dict[str, Any] = {"name": stage["name"], "description": stage.get("description", ""),
                           "manual": stage.get("manual", False), "final": stage.get("final", False),
                           "index": index, "plans": collapsed(len(jobs))}
    if with_jobs:
        out["plans"] = collection("plan", [
            {"key": f"{plan_key}-{j['key']}", "name": j["name"], "shortName": j["name"], "shortKey": j["key"],
             "type": "job", "enabled": True, "description": j.get("description", ""),
             "link": link(request, f"plan/{plan_key}-{j['key']}")} for j in jobs], len(jobs), 0, len(jobs))
    return out


def labels_json(request: Request, plan_key: str, labels: list[str]) -> dict[str, Any]:
    return {"expand": "labels", "link": link(request, f"plan/{plan_key}/label"),
            "labels": collection("label", [{"name": n} for n in labels], len(labels), 0, len(labels))}
