"""Bamboo Specs YAML (version 2) parsing and validation, pure: text in, normalised plan dicts out.

Errors name the line (1-based) of the offending node so a user can fix a spec without guessing; the
whole input is rejected on any error, so an import is all or nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")
PLAN_KEY = re.compile(r"^[A-Z][A-Z0-9]*$")
JOB_KEY = PLAN_KEY

PLAN_TOP_KEYS = {"version", "plan", "stages", "variables", "triggers", "branches", "labels", "notifications",
                 "dependencies", "plan-permissions", "repositories", "other"}
JOB_KEYS = {"key", "description", "tasks", "final-tasks", "artifacts", "requirements", "artifact-subscriptions",
            "docker", "other"}
TASK_NAMES = {"script", "checkout", "clean", "test-parser", "artifact-download", "inject-variables"}


@dataclass(frozen=True)
class SpecError:
    """One problem, with the 1-based line of the node it concerns (None when unknown)."""

    message: str
    line: int | None

    def text(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class SpecsInvalid(Exception):
    """The specs could not be accepted; `errors` lists every problem found."""

    errors: list[SpecError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(e.text() for e in self.errors)


_constructor = yaml.SafeLoader("")
# Nodes visited with aliases expanded: anchors are legitimate, but an alias bomb (or a recursive anchor)
# must fail here rather than when the spec is stored as JSON.
MAX_NODES = 20000


def _within_budget(documents: list[Node]) -> bool:
    budget = MAX_NODES
    stack: list[Node] = list(documents)
    while stack:
        node = stack.pop()
        budget -= 1
        if budget < 0:
            return False
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    return True


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Checker:
    def __init__(self) -> None:
        self.errors: list[SpecError] = []

    def fail(self, node: Node | None, message: str) -> None:
        self.errors.append(SpecError(message, _line(node) if node is not None else None))

    # --- scalar helpers -------------------------------------------------------------------------
    def scalar(self, node: Node, what: str) -> Any:
        if not isinstance(node, ScalarNode):
            self.fail(node, f"{what} must be a single value")
            return None
        return _constructor.construct_object(node, deep=True)

    def string(self, node: Node, what: str) -> str | None:
        value = self.scalar(node, what)
        if value is None:
            if isinstance(node, ScalarNode):
                self.fail(node, f"{what} must not be empty")
            return None
        if isinstance(value, bool):
            self.fail(node, f"{what} must be text")
            return None
        text = str(value)
        if "\x00" in text:
            self.fail(node, f"{what} must not contain NUL characters")
            return None
        return text

    def boolean(self, node: Node, what: str) -> bool | None:
        value = self.scalar(node, what)
        if not isinstance(value, bool):
            if isinstance(node, ScalarNode):
                self.fail(node, f"{what} must be true or false")
            return None
        return value

    def mapping(self, node: Node, what: str, allowed: set[str] | None = None) -> dict[str, tuple[Node, Node]]:
        """Key text → (key node, value node); duplicate and (if `allowed`) unknown keys are errors."""
        if not isinstance(node, MappingNode):
            self.fail(node, f"{what} must be a mapping")
            return {}
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = self.string(key_node, f"a key of {what}")
            if key is None:
                continue
            if key in out:
                self.fail(key_node, f"duplicate key '{key}' in {what}")
                continue
            if allowed is not None and key not in allowed:
                self.fail(key_node, f"unknown key '{key}' in {what}")
                continue
            out[key] = (key_node, value_node)
        return out

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.fail(node, f"{what} must be a list")
            return []
        return list(node.value)

    def strings(self, node: Node, what: str) -> list[str]:
        return [s for s in (self.string(n, f"an entry of {what}") for n in self.sequence(node, what)) if s is not None]

    def plain(self, node: Node) -> Any:
        """Free-form blocks kept as data (triggers, branches, notifications...)."""
        return _constructor.construct_object(node, deep=True)

    # --- plan document --------------------------------------------------------------------------
    def plan_document(self, root: Node) -> dict[str, Any] | None:
        top = self.mapping(root, "the specs document")
        if not top:
            return None
        if "version" not in top:
            self.fail(root, "missing key 'version'")
        else:
            version = self.scalar(top["version"][1], "version")
            if version != 2:
                self.fail(top["version"][1], "only specs 'version: 2' are supported")
        if "deployment" in top:
            self.fail(top["deployment"][0], "deployment projects are not supported yet")
            return None
        if "plan" not in top:
            self.fail(root, "missing key 'plan'")
            return None
        plan = self.plan_header(top["plan"][1])
        stages, job_names = self.stages(top.get("stages"), root)
        jobs: dict[str, dict[str, Any]] = {}
        for key, (key_node, value_node) in top.items():
            if key in PLAN_TOP_KEYS:
                continue
            if key not in job_names:
                self.fail(key_node, f"unknown key '{key}' (not a job of any stage)")
                continue
            jobs[key] = self.job(key, value_node)
        for name, node in job_names.items():
            if name not in jobs:
                self.fail(node, f"job '{name}' is listed in a stage but not defined")
        self.job_keys(jobs, job_names)
        self.artifact_flow(stages, jobs, job_names)
        spec: dict[str, Any] = dict(plan or {})
        spec["stages"] = [
            {**stage, "jobs": [{"name": j, **jobs[j]} for j in stage["jobs"] if j in jobs]} for stage in stages]
        spec["variables"] = self.variables(top["variables"][1]) if "variables" in top else {}
        spec["labels"] = self.labels(top["labels"][1]) if "labels" in top else []
        if "triggers" in top:
            self.cron_triggers(top["triggers"][1])
        for extra in ("triggers", "branches", "notifications", "dependencies", "plan-permissions", "repositories",
                      "other"):
            if extra in top:
                spec[extra] = self.plain(top[extra][1])
        return spec if plan else None

    def cron_triggers(self, node: Node) -> None:
        """Scheduled triggers must be schedulable: a bad expression is refused at import, not at fire time."""
        from culm.domain.bamboo.cron import check  # late: cron imports the models, not the other way round

        for item in node.value if isinstance(node, SequenceNode) else []:
            if not isinstance(item, MappingNode):
                continue
            for key_node, value in item.value:
                if not (isinstance(key_node, ScalarNode) and key_node.value == "cron"):
                    continue
                if isinstance(value, MappingNode):
                    found = [v for k, v in value.value if isinstance(k, ScalarNode) and k.value == "expression"]
                    value = found[0] if found else value
                if not isinstance(value, ScalarNode):
                    self.fail(value, "a cron trigger needs an expression ('cron: 0 0 3 ? * *')")
                    continue
                problem = check(value.value)
                if problem:
                    self.fail(value, problem)

    def plan_header(self, node: Node) -> dict[str, Any] | None:
        fields = self.mapping(node, "'plan'", {"project-key", "key", "name", "description", "enabled"})
        if not fields and not isinstance(node, MappingNode):
            return None
        out: dict[str, Any] = {}
        for required in ("project-key", "key", "name"):
            if required not in fields:
                self.fail(node, f"missing key '{required}' in 'plan'")
        if "project-key" in fields:
            value = self.string(fields["project-key"][1], "project-key")
            if value is not None and not PROJECT_KEY.match(value):
                self.fail(fields["project-key"][1], f"invalid project key '{value}': use upper-case letters, "
                          "digits and underscores, starting with a letter")
            out["projectKey"] = value
        if "key" in fields:
            value = self.string(fields["key"][1], "key")
            if value is not None and not PLAN_KEY.match(value):
                self.fail(fields["key"][1], f"invalid plan key '{value}': use upper-case letters and digits, "
                          "starting with a letter")
            out["key"] = value
        if "name" in fields:
            out["name"] = self.string(fields["name"][1], "name")
        out["description"] = self.string(fields["description"][1], "description") if "description" in fields else ""
        out["enabled"] = self.boolean(fields["enabled"][1], "enabled") if "enabled" in fields else True
        if any(out.get(k) is None for k in ("projectKey", "key", "name")):
            return None
        return out

    def stages(self, node_pair: tuple[Node, Node] | None, root: Node) -> tuple[list[dict[str, Any]], dict[str, Node]]:
        if node_pair is None:
            self.fail(root, "missing key 'stages'")
            return [], {}
        stages: list[dict[str, Any]] = []
        job_names: dict[str, Node] = {}
        seen: set[str] = set()
        items = self.sequence(node_pair[1], "'stages'")
        if not items and isinstance(node_pair[1], SequenceNode):
            self.fail(node_pair[1], "a plan needs at least one stage")
        for item in items:
            entry = self.mapping(item, "a stage")
            if len(entry) != 1:
                if isinstance(item, MappingNode):
                    self.fail(item, "a stage is one mapping 'Stage name: [jobs]'")
                continue
            name, (key_node, body) = next(iter(entry.items()))
            if name in seen:
                self.fail(key_node, f"duplicate stage '{name}'")
            seen.add(name)
            manual, final, description = False, False, ""
            if isinstance(body, MappingNode):
                opts = self.mapping(body, f"stage '{name}'", {"manual", "final", "jobs", "description"})
                if "manual" in opts:
                    manual = bool(self.boolean(opts["manual"][1], "manual"))
                if "final" in opts:
                    final = bool(self.boolean(opts["final"][1], "final"))
                if "description" in opts:
                    description = self.string(opts["description"][1], "description") or ""
                if "jobs" not in opts:
                    self.fail(body, f"missing key 'jobs' in stage '{name}'")
                    job_nodes: list[Node] = []
                else:
                    job_nodes = self.sequence(opts["jobs"][1], f"the jobs of stage '{name}'")
            else:
                job_nodes = self.sequence(body, f"the jobs of stage '{name}'")
            if not job_nodes and isinstance(body, (SequenceNode, MappingNode)):
                self.fail(body, f"stage '{name}' has no jobs")
            jobs: list[str] = []
            for job_node in job_nodes:
                job = self.string(job_node, "a job name")
                if job is None:
                    continue
                if job in PLAN_TOP_KEYS:
                    self.fail(job_node, f"'{job}' is reserved and cannot name a job")
                elif job in job_names:
                    self.fail(job_node, f"job '{job}' appears in more than one stage")
                else:
                    job_names[job] = job_node
                    jobs.append(job)
            stages.append({"name": name, "description": description, "manual": manual, "final": final,
                           "jobs": jobs})
        return stages, job_names

    def job(self, name: str, node: Node) -> dict[str, Any]:
        fields = self.mapping(node, f"job '{name}'", JOB_KEYS)
        out: dict[str, Any] = {"line": _line(node)}
        if "key" in fields:
            key = self.string(fields["key"][1], "job key")
            if key is not None and not JOB_KEY.match(key):
                self.fail(fields["key"][1], f"invalid job key '{key}'")
            out["key"] = key
        out["description"] = self.string(fields["description"][1], "description") if "description" in fields else ""
        if "tasks" not in fields:
            self.fail(node, f"missing key 'tasks' in job '{name}'")
        out["tasks"] = self.tasks(fields["tasks"][1], name) if "tasks" in fields else []
        out["final-tasks"] = self.tasks(fields["final-tasks"][1], name) if "final-tasks" in fields else []
        out["artifacts"] = self.artifacts(fields["artifacts"][1]) if "artifacts" in fields else []
        out["requirements"] = self.requirements(fields["requirements"][1]) if "requirements" in fields else []
        if "artifact-subscriptions" in fields:
            out["artifact-subscriptions"] = self.subscriptions(fields["artifact-subscriptions"][1])
        if "docker" in fields:
            out["docker"] = self.plain(fields["docker"][1])
        return out

    def tasks(self, node: Node, job: str) -> list[dict[str, Any]]:
        out = []
        for item in self.sequence(node, f"the tasks of job '{job}'"):
            if isinstance(item, ScalarNode):
                kind = self.string(item, "a task")
                if kind is None:
                    continue
                if kind not in TASK_NAMES:
                    self.fail(item, f"unknown task '{kind}'")
                elif kind == "script":
                    self.fail(item, "a script task needs its scripts")
                else:
                    out.append({"type": kind, "line": _line(item)})
                continue
            entry = self.mapping(item, "a task")
            if len(entry) != 1:
                if isinstance(item, MappingNode):
                    self.fail(item, "a task is one mapping 'task-type: settings'")
                continue
            kind, (key_node, body) = next(iter(entry.items()))
            if kind not in TASK_NAMES:
                self.fail(key_node, f"unknown task '{kind}'")
                continue
            task = getattr(self, "task_" + kind.replace("-", "_"))(body)
            if task is not None:
                out.append({"type": kind, "line": _line(item), **task})
        return out

    def task_script(self, node: Node) -> dict[str, Any] | None:
        if isinstance(node, SequenceNode):
            scripts = self.strings(node, "'script'")
            if not scripts:
                self.fail(node, "a script task needs at least one line")
            return {"interpreter": "SHELL", "scripts": scripts}
        if isinstance(node, ScalarNode):
            line = self.string(node, "'script'")
            return {"interpreter": "SHELL", "scripts": [line] if line else []}
        fields = self.mapping(node, "'script'", {"interpreter", "scripts", "file", "argument", "description",
                                                  "environment", "working-dir", "conditions"})
        out: dict[str, Any] = {"interpreter": "SHELL"}
        if "interpreter" in fields:
            interp = self.string(fields["interpreter"][1], "interpreter")
            if interp is not None and interp.upper() not in ("SHELL", "BINSH_OR_CMDEXE", "CMDEXE", "POWERSHELL",
                                                             "WINDOWS_POWER_SHELL"):
                self.fail(fields["interpreter"][1], f"unknown interpreter '{interp}'")
            out["interpreter"] = (interp or "SHELL").upper()
        has_scripts, has_file = "scripts" in fields, "file" in fields
        if has_scripts == has_file:
            self.fail(node, "a script task needs exactly one of 'scripts' or 'file'")
        if has_scripts:
            out["scripts"] = self.strings(fields["scripts"][1], "'scripts'")
        if has_file:
            path = self.string(fields["file"][1], "file")
            if path is not None and (path.startswith("/") or ".." in path.split("/")):
                self.fail(fields["file"][1], f"script file '{path}' must be a relative path inside the checkout")
            out["file"] = path
        for opt in ("argument", "description", "environment", "working-dir"):
            if opt in fields:
                out[opt] = self.string(fields[opt][1], opt)
        if "conditions" in fields:
            out["conditions"] = self.plain(fields["conditions"][1])
        return out

    def _options(self, node: Node, what: str, allowed: set[str]) -> dict[str, Any] | None:
        if isinstance(node, ScalarNode) and self.plain(node) is None:
            return {}
        fields = self.mapping(node, what, allowed)
        return {k: self.plain(v) for k, (_, v) in fields.items()}

    def task_checkout(self, node: Node) -> dict[str, Any] | None:
        return self._options(node, "'checkout'", {"repository", "path", "force-clean-build", "description",
                                                  "conditions"})

    def task_clean(self, node: Node) -> dict[str, Any] | None:
        return self._options(node, "'clean'", {"description", "conditions"})

    def task_test_parser(self, node: Node) -> dict[str, Any] | None:
        fields = self.mapping(node, "'test-parser'", {"type", "test-results", "description", "conditions"})
        out: dict[str, Any] = {}
        if "type" not in fields or "test-results" not in fields:
            if isinstance(node, MappingNode):
                self.fail(node, "'test-parser' needs 'type' and 'test-results'")
            return None
        kind = self.string(fields["type"][1], "type")
        if kind is not None and kind not in ("junit", "testng", "nunit", "mocha", "mstest"):
            self.fail(fields["type"][1], f"unknown test parser type '{kind}'")
        out["parser"] = kind
        results = fields["test-results"][1]
        out["test-results"] = self.strings(results, "'test-results'") if isinstance(results, SequenceNode) \
            else [self.string(results, "'test-results'")]
        return out

    def task_artifact_download(self, node: Node) -> dict[str, Any] | None:
        fields = self.mapping(node, "'artifact-download'", {"artifacts", "destination", "source-plan", "description",
                                                            "conditions"})
        out: dict[str, Any] = {"destination": "", "artifacts": []}
        if "destination" in fields:
            out["destination"] = self.string(fields["destination"][1], "destination") or ""
        if "artifacts" in fields:
            for item in self.sequence(fields["artifacts"][1], "'artifacts'"):
                spec = self.mapping(item, "an artifact to download", {"name", "destination"})
                if "name" not in spec:
                    if isinstance(item, MappingNode):
                        self.fail(item, "an artifact to download needs a 'name'")
                    continue
                out["artifacts"].append({"name": self.string(spec["name"][1], "name"), "line": _line(item)})
        return out

    def task_inject_variables(self, node: Node) -> dict[str, Any] | None:
        fields = self.mapping(node, "'inject-variables'", {"file", "scope", "namespace", "description", "conditions"})
        if "file" not in fields:
            if isinstance(node, MappingNode):
                self.fail(node, "'inject-variables' needs a 'file'")
            return None
        out: dict[str, Any] = {"file": self.string(fields["file"][1], "file"), "scope": "LOCAL",
                               "namespace": "inject"}
        if "scope" in fields:
            scope = self.string(fields["scope"][1], "scope")
            if scope is not None and scope.upper() not in ("LOCAL", "RESULT"):
                self.fail(fields["scope"][1], f"unknown scope '{scope}' (LOCAL or RESULT)")
            out["scope"] = (scope or "LOCAL").upper()
        if "namespace" in fields:
            out["namespace"] = self.string(fields["namespace"][1], "namespace")
        return out

    def artifacts(self, node: Node) -> list[dict[str, Any]]:
        out, names = [], set()
        for item in self.sequence(node, "'artifacts'"):
            fields = self.mapping(item, "an artifact", {"name", "pattern", "location", "shared", "required"})
            if not isinstance(item, MappingNode):
                continue
            if "name" not in fields or "pattern" not in fields:
                self.fail(item, "an artifact needs 'name' and 'pattern'")
                continue
            name = self.string(fields["name"][1], "name")
            if name in names:
                self.fail(fields["name"][1], f"duplicate artifact '{name}'")
            names.add(name)
            art = {"name": name, "pattern": self.string(fields["pattern"][1], "pattern"),
                   "location": self.string(fields["location"][1], "location") if "location" in fields else "",
                   "shared": self.boolean(fields["shared"][1], "shared") if "shared" in fields else True,
                   "required": self.boolean(fields["required"][1], "required") if "required" in fields else False,
                   "line": _line(item)}
            out.append(art)
        return out

    def subscriptions(self, node: Node) -> list[dict[str, Any]]:
        out = []
        for item in self.sequence(node, "'artifact-subscriptions'"):
            fields = self.mapping(item, "an artifact subscription", {"artifact", "destination"})
            if "artifact" in fields:
                out.append({"name": self.string(fields["artifact"][1], "artifact"), "line": _line(item),
                            "destination": self.string(fields["destination"][1], "destination")
                            if "destination" in fields else ""})
            elif isinstance(item, MappingNode):
                self.fail(item, "an artifact subscription needs 'artifact'")
        return out

    def requirements(self, node: Node) -> list[dict[str, Any]]:
        out = []
        for item in self.sequence(node, "'requirements'"):
            if isinstance(item, ScalarNode):
                key = self.string(item, "a requirement")
                if key:
                    out.append({"key": key, "match": "EXISTS"})
                continue
            entry = self.mapping(item, "a requirement")
            if len(entry) != 1:
                if isinstance(item, MappingNode):
                    self.fail(item, "a requirement is 'capability' or 'capability: value'")
                continue
            key, (_, value) = next(iter(entry.items()))
            text = self.string(value, f"requirement '{key}'")
            if text is not None:
                out.append({"key": key, "match": "EQUALS", "value": text})
        return out

    def variables(self, node: Node) -> dict[str, str]:
        out = {}
        for key, (key_node, value) in self.mapping(node, "'variables'").items():
            if not re.match(r"^[A-Za-z0-9_.\-]+$", key):
                self.fail(key_node, f"invalid variable name '{key}'")
                continue
            text = self.scalar(value, f"variable '{key}'")
            out[key] = "" if text is None else str(text).lower() if isinstance(text, bool) else str(text)
        return out

    def labels(self, node: Node) -> list[str]:
        out: list[str] = []
        for label in self.strings(node, "'labels'"):
            norm = label.strip().lower()
            if not norm or re.search(r"[\s,&!\"'<>/\\]", norm):
                self.fail(node, f"invalid label '{label}'")
            elif norm not in out:
                out.append(norm)
        return out

    def job_keys(self, jobs: dict[str, dict[str, Any]], job_names: dict[str, Node]) -> None:
        """Jobs without a key get one derived from their name (JOB1, JOB2... if nothing usable)."""
        used = {j["key"] for j in jobs.values() if j.get("key")}
        seen: set[str] = set()
        for name, job in jobs.items():
            key = job.get("key")
            if key:
                if key in seen:
                    self.fail(job_names[name], f"duplicate job key '{key}'")
                seen.add(key)
        counter = 1
        for job in jobs.values():
            if not job.get("key"):
                while f"JOB{counter}" in used:
                    counter += 1
                job["key"] = f"JOB{counter}"
                used.add(job["key"])

    def artifact_flow(self, stages: list[dict[str, Any]], jobs: dict[str, dict[str, Any]],
                      job_names: dict[str, Node]) -> None:
        """Artifacts a job downloads must be shared by a job of an EARLIER stage; a job consuming what its
        own stage (or a later one) produces would be a dependency cycle."""
        stage_of: dict[str, int] = {}
        for index, stage in enumerate(stages):
            for job in stage["jobs"]:
                if job in jobs:
                    for art in jobs[job]["artifacts"]:
                        if art["shared"] and art["name"] is not None:
                            stage_of.setdefault(art["name"], index)
        for index, stage in enumerate(stages):
            for job_name in stage["jobs"]:
                job = jobs.get(job_name)
                if job is None:
                    continue
                wanted = list(job.get("artifact-subscriptions", []))
                for task in job["tasks"] + job["final-tasks"]:
                    if task["type"] == "artifact-download" and not task.get("source-plan"):
                        wanted.extend(task["artifacts"])
                for want in wanted:
                    produced = stage_of.get(want["name"])
                    if produced is None:
                        self.errors.append(SpecError(f"job '{job_name}' downloads unknown shared artifact "
                                                     f"'{want['name']}'", want["line"]))
                    elif produced >= index:
                        self.errors.append(SpecError(
                            f"artifact dependency cycle: job '{job_name}' downloads '{want['name']}', which is "
                            "produced in the same or a later stage", want["line"]))


def parse(text: str) -> list[dict[str, Any]]:
    """Every plan of a (possibly multi-document) specs text, normalised; SpecsInvalid on any problem."""
    checker = _Checker()
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SpecsInvalid([SpecError(f"malformed YAML: {exc.problem or exc.context}",
                                      mark.line + 1 if mark else None)]) from None
    except yaml.YAMLError as exc:
        raise SpecsInvalid([SpecError(f"malformed YAML: {exc}", None)]) from None
    except (ValueError, RecursionError):
        raise SpecsInvalid([SpecError("malformed YAML", None)]) from None
    if not _within_budget([d for d in documents if d is not None]):
        raise SpecsInvalid([SpecError(f"the specs are too large (more than {MAX_NODES} values once aliases are "
                                      "expanded)", None)])
    plans: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for doc in documents:
        if doc is None:
            continue
        try:
            plan = checker.plan_document(doc)
        except yaml.YAMLError as exc:
            checker.fail(doc, f"invalid value: {exc}")
            continue
        if plan is None:
            continue
        full = f"{plan['projectKey']}-{plan['key']}"
        if full in seen:
            checker.fail(doc, f"plan {full} is defined twice")
            continue
        seen[full] = len(plans)
        plans.append(plan)
    if not plans and not checker.errors:
        checker.errors.append(SpecError("the specs define no plan", None))
    if checker.errors:
        raise SpecsInvalid(checker.errors)
    return plans
