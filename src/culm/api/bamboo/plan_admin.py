"""Bamboo REST, plan administration: artifact definitions, the server folders of a plan, Jira issues (no Jira
here), a job's Docker configuration, test quarantine and Specs scanning for plan branches."""

from __future__ import annotations

import copy
import json
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from starlette.requests import Request
from starlette.responses import Response

from culm.api.bamboo import render
from culm.api.bamboo import result_access as access
from culm.api.bamboo.plans import _caller, _paging, route
from culm.domain.bamboo import quarantine, service, storage
from culm.domain.bamboo.models import BambooPlan, BambooProject
from culm.domain.bamboo.service import Invalid, NotFound
from culm.domain.base import now_ms

MAX_DOCKER_TEXT = 1000


async def json_body(request: Request, *, required: bool = True) -> dict[str, Any]:
    """A JSON object body (Bamboo's 400 otherwise)."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise Invalid("The request body is missing.")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    return body


def _plan(request: Request, name: str = "planKey") -> tuple[Session, Any, BambooProject, BambooPlan]:
    session, who = _caller(request)
    project, plan = access.readable_plan(session, who, render.strip_suffix(request.path_params[name]))
    return session, who, project, plan


def jobs(plan: BambooPlan) -> list[dict[str, Any]]:
    return [job for stage in (plan.spec or {}).get("stages", []) for job in stage.get("jobs", [])]


def job_of(session: Session, raw: str) -> tuple[BambooProject, BambooPlan, dict[str, Any]]:
    """`PROJ-PLAN-JOB1` -> its plan and the job's spec entry; NotFound in Bamboo's words."""
    key = render.strip_suffix(raw)
    plan_key, _, job_key = key.rpartition("-")
    try:
        project, plan = service.plan(session, plan_key)
    except NotFound:
        raise NotFound(f"Job {key} not found") from None
    for job in jobs(plan):
        if job.get("key") == job_key:
            return project, plan, job
    raise NotFound(f"Job {key} not found")


# ---- artifact definitions ----------------------------------------------------------------------------------

@route("/plan/{planKey}/artifact", "GET")
async def artifact_definitions(request: Request) -> Response:
    _, _, project, plan = _plan(request)
    start, limit = _paging(request)
    full = f"{project.key}-{plan.key}"
    items = []
    for job in jobs(plan):
        for art in job.get("artifacts") or []:
            items.append({"id": len(items) + 1, "name": art["name"], "location": art.get("location") or "",
                          "copyPatterns": [art["pattern"]], "exclusionPatterns": [],
                          "shared": bool(art.get("shared", True)), "required": bool(art.get("required", False)),
                          "producerJobKey": f"{full}-{job['key']}"})
    page = items[start:start + limit]
    data = {"expand": "artifacts", "link": render.link(request, f"plan/{full}/artifact"),
            "artifacts": {"size": len(items), "expand": "artifact", "start-index": start, "max-result": len(page),
                          "artifact": page}}
    return render.respond(request, "artifactDefinitions", data)


# ---- server folders ----------------------------------------------------------------------------------------

@route("/planDirectoryInfo/{planKey}", "GET")
async def plan_directory_info(request: Request) -> Response:
    """Where this server keeps the plan's build logs (one folder per job) and artifact files."""
    _, _, project, plan = _plan(request)
    full = f"{project.key}-{plan.key}"
    logs = storage.bamboo_dir() / "logs"
    data = {"results": [{"planName": f"{project.name} - {plan.name}",
                         "artifact_plan_roots": [str(storage.artifact_root())],
                         "build_log_job_roots": {f"{full}-{j['key']}": str(logs / f"{full}-{j['key']}")
                                                 for j in jobs(plan)},
                         "isBranchBuild": plan.master_id is not None, "storageTag": full}]}
    return render.respond(request, "directoryInformationResponse", data)


# ---- Jira --------------------------------------------------------------------------------------------------

@route("/plan/{planKey}/issue/{issueKey}", "GET")
async def issue(request: Request) -> Response:
    """No Jira is linked to this server: Bamboo answers an unknown issue / missing application link with 400."""
    _plan(request)
    issue_key = render.strip_suffix(request.path_params["issueKey"])
    raise Invalid(f"Unable to find Jira issue {issue_key}: no Jira application link is configured.")


# ---- Docker ------------------------------------------------------------------------------------------------

def docker_json(job: dict[str, Any]) -> dict[str, Any]:
    """RestDockerPipelineConfiguration from a job's Specs `docker:` (an image name, or {image, volumes,
    docker-run-arguments}); the agents of this server run jobs on the agent itself, not in the container."""
    docker = job.get("docker")
    if isinstance(docker, str):
        docker = {"image": docker}
    if not isinstance(docker, dict) or not docker.get("image"):
        return {"enabled": False, "dockerImage": "", "dataVolumes": [], "additionalArguments": []}
    volumes = docker.get("volumes") if isinstance(docker.get("volumes"), dict) else {}
    args = docker.get("docker-run-arguments") if isinstance(docker.get("docker-run-arguments"), list) else []
    return {"enabled": docker.get("enabled", True) is not False, "dockerImage": str(docker["image"]),
            "dataVolumes": [{"hostDirectory": str(h), "containerDirectory": str(c)} for h, c in volumes.items()],
            "additionalArguments": [str(a) for a in args]}


def _text(value: Any, name: str, required: bool = False) -> str:
    if value is None and not required:
        return ""
    bad = not isinstance(value, str) or len(value) > MAX_DOCKER_TEXT or "\x00" in value
    if bad or (required and not value.strip()):
        raise Invalid(f"{name} must be text of 1 to {MAX_DOCKER_TEXT} characters.")
    return value.strip()


def docker_spec(body: dict[str, Any]) -> dict[str, Any] | None:
    """The Specs form of a RestDockerPipelineConfiguration body; None to remove Docker from the job."""
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise Invalid("enabled must be true or false.")
    if not enabled:
        return None
    image = _text(body.get("dockerImage"), "dockerImage", required=True)
    volumes_raw, args_raw = body.get("dataVolumes") or [], body.get("additionalArguments") or []
    if not isinstance(volumes_raw, list) or not isinstance(args_raw, list) or len(volumes_raw) > 50 \
            or len(args_raw) > 50:
        raise Invalid("dataVolumes and additionalArguments must be lists (at most 50 entries).")
    volumes = {}
    for vol in volumes_raw:
        if not isinstance(vol, dict):
            raise Invalid("Each data volume needs hostDirectory and containerDirectory.")
        volumes[_text(vol.get("hostDirectory"), "hostDirectory", True)] = \
            _text(vol.get("containerDirectory"), "containerDirectory", True)
    out: dict[str, Any] = {"image": image}
    if volumes:
        out["volumes"] = volumes
    if args_raw:
        out["docker-run-arguments"] = [_text(a, "additionalArguments", True) for a in args_raw]
    return out


@route("/job/{jobKey}/docker", "GET", "PUT")
async def job_docker(request: Request) -> Response:
    """Kept in the plan's spec (as a Specs import writes it); the executor of this server does not start
    containers, so it documents the intended image only."""
    session, who = _caller(request)
    project, plan, job = job_of(session, request.path_params["jobKey"])
    access.require_build(session, who, plan)
    if request.method == "GET":
        return render.respond(request, "dockerPipelineConfiguration", docker_json(job))
    wanted = docker_spec(await json_body(request))
    spec = copy.deepcopy(plan.spec)
    for stage in spec.get("stages", []):
        for entry in stage.get("jobs", []):
            if entry.get("key") == job["key"]:
                if wanted is None:
                    entry.pop("docker", None)
                else:
                    entry["docker"] = wanted
                job = entry
    plan.spec = spec
    flag_modified(plan, "spec")
    plan.updated_date = now_ms()
    return render.respond(request, "dockerPipelineConfiguration", docker_json(job))


# ---- quarantine --------------------------------------------------------------------------------------------

@route("/plan/{planKey}/test/{testId}/quarantine", "POST")
async def quarantine_test(request: Request) -> Response:
    session, who, _, plan = _plan(request)
    access.require_build(session, who, plan)
    body = await json_body(request, required=False)
    test = quarantine.test_of_plan(session, plan, render.strip_suffix(request.path_params["testId"]))
    quarantine.quarantine(session, plan, test, who.user.id if who.user else None, quarantine.expiry(body))
    return Response(status_code=204)


@route("/plan/{planKey}/test/{testId}/unleash", "POST")
async def unleash_test(request: Request) -> Response:
    session, who, _, plan = _plan(request)
    access.require_build(session, who, plan)
    test = quarantine.test_of_plan(session, plan, render.strip_suffix(request.path_params["testId"]))
    quarantine.unleash(session, plan, test)
    return Response(status_code=200)


# ---- Specs for branches ------------------------------------------------------------------------------------

@route("/plan/{planKey}/branch/enableSpecsForBranches", "POST")
async def enable_specs_for_branches(request: Request) -> Response:
    """Records Bamboo's "scan Bamboo Specs in plan branches" switch in the plan's `branches:` block."""
    session, who, _, plan = _plan(request)
    access.require_build(session, who, plan)
    if plan.master_id is not None:
        raise Invalid("Specs scanning is enabled on the master plan, not on a plan branch.")
    spec = copy.deepcopy(plan.spec)
    branches = spec.get("branches") if isinstance(spec.get("branches"), dict) else {}
    spec["branches"] = {**branches, "specs-for-branches": True}
    plan.spec = spec
    flag_modified(plan, "spec")
    plan.updated_date = now_ms()
    return Response(status_code=204)
