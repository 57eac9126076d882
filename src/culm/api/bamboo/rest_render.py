"""Rendering for the REST resources of api/bamboo/{agents,misc,search,...}: bare JSON arrays (agents,
variables, capabilities) and per-response XML attribute sets, on top of render.py's conventions."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from culm.api.bamboo import render
from culm.domain.bamboo import branches
from culm.domain.bamboo.models import BambooPlan, BambooProject

XML_HEAD = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def _element(name: str, data: Any, parent: ET.Element | None, attrs: dict[str, set[str]]) -> ET.Element:
    """render.py's element, with `attrs` over its ATTRIBUTES and paging attributes on every element."""
    return render._element(name, data, parent, {**render.ATTRIBUTES, **attrs}, not_wrappers=set())


def respond(request: Request, root: str, data: Any, *, item: str | None = None,
            attrs: dict[str, set[str]] | None = None, status: int = 200) -> Response:
    """`data` a dict (rendered as `root`) or a list (a bare JSON array; XML: `root` wrapping one `item` each)."""
    if render.wants_json(request):
        return Response(json.dumps(data), status_code=status, media_type="application/json")
    attrs = attrs or {}
    if isinstance(data, list):
        elem = ET.Element(root)
        for entry in data:
            _element(item or "item", entry, elem, attrs)
    else:
        elem = _element(root, data, None, attrs)
    return Response(XML_HEAD + ET.tostring(elem), status_code=status, media_type="application/xml")


def branch_json(request: Request, project: BambooProject, master: BambooPlan, branch: BambooPlan,
                with_master: bool = True) -> dict[str, Any]:
    """A plan branch (RestPlanBranch); `master` is the plan it belongs to."""
    full = f"{project.key}-{branch.key}"
    out: dict[str, Any] = {
        "description": branch.description or "", "shortName": branch.name, "shortKey": branch.key,
        "enabled": branch.enabled, "link": render.link(request, f"plan/{full}"),
        "workflowType": "BRANCH_WORKFLOW", "divergent": False, "awaitingSpecsExecution": False,
        "key": full, "name": f"{project.name} - {master.name} - {branch.name}",
    }
    if with_master:
        out["master"] = {"shortName": master.name, "shortKey": master.key, "type": "chain",
                         "enabled": master.enabled, "link": render.link(request, f"plan/{project.key}-{master.key}"),
                         "key": f"{project.key}-{master.key}", "name": f"{project.name} - {master.name}",
                         "planKey": {"key": f"{project.key}-{master.key}"}}
    return out


def branch_items(request: Request, session: Session, project: BambooProject, plan: BambooPlan
                 ) -> list[dict[str, Any]]:
    """The plan branches of a top-level plan, rendered for its `branches` expand (none for a branch)."""
    if plan.master_id is not None:
        return []
    return [branch_json(request, project, plan, b, with_master=False) for b in branches.branches(session, plan)]
