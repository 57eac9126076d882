"""Check culm's responses against the reference OpenAPI documents (the contract clients were written to).

`check_response(method, path, status, body)` finds the spec operation serving `path`, takes the response
schema for `status` (resolving `$ref`s into `components`) and validates the JSON body with jsonschema; it
raises `SpecMismatch` (an AssertionError) saying what differs. Where the spec is wrong or stricter than
real servers, `NULL_ALLOWED` and `STATUS_ALLOWED` below exempt exactly that, each with its source.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, ValidationError
from jsonschema.exceptions import best_match

_TOOL = Path(__file__).resolve().parents[1] / "tools" / "api_coverage.py"


def _coverage_tool() -> Any:
    """tools/api_coverage.py holds where the specs live and how spec paths are shaped; reuse it."""
    if "api_coverage" not in sys.modules:
        spec = importlib.util.spec_from_file_location("api_coverage", _TOOL)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["api_coverage"] = module
        spec.loader.exec_module(module)
    return sys.modules["api_coverage"]


class SpecMismatch(AssertionError):
    """A response that a client written against the spec would not expect."""


# Values the spec types as non-null but real servers send as null: (spec path of the operation or None for
# any, JSON path of the value in the body, reason). Both are regular expressions matched in full.
NULL_ALLOWED: list[tuple[str | None, str, str]] = [
    (None, r"\$\.errors\[\d+\]\.context",
     "notes/bitbucket-api.md §2.2: `context` names the offending field, else it is null (LIVE-ERR)"),
    (r".*/tags(/\{name\})?", r"\$(\.values\[\d+\])?\.hash",
     "notes/bitbucket-api.md §4: RestTag `hash` (the tag object) is null for lightweight tags"),
]

# Statuses real servers (and clients) use that the spec does not list: (METHOD, spec path, status, reason).
STATUS_ALLOWED: list[tuple[str, str, int, str]] = [
    ("GET", "/api/latest/projects/{projectKey}/permissions/groups/none", 200,
     "the spec lists only 202 for this read, unlike its users/none twin and the repository form (200); "
     "notes/bitbucket-api.md §3.8: permission lists answer a page with 200"),
    ("POST", "/triggers/latest/remote/changeDetection", 204,
     "Bamboo's spec lists only the errors of scheduleChangeDetection; its success has no body (a void JAX-RS "
     "method answers 204); notes/bamboo-api.md §3.7"),
]

# Values real servers send as strings where the spec types an object: (JSON path regex, reason).
STRING_ALLOWED: list[tuple[str, str]] = [
    (r".*\.anchor\.(path|srcPath)",
     "comment anchors carry `path`/`srcPath` as plain strings on real servers and in every client "
     "(atlassian-python-api's add_pull_request_inline_comment sends and reads them so); 10.4 types them RestPath"),
]

# Values the spec types as `object` (Java's Object) that real servers send as any JSON value: (spec path of the
# operation, JSON path regex, reason).
ANY_VALUE_ALLOWED: list[tuple[str, str, str]] = [
    (r"/insights/.*", r"\$(\.values\[\d+\])?\.data\[\d+\]\.value",
     "RestInsightReportData.value: setACodeInsightsReport's description says a raw value (string, number or "
     "boolean) or a map, by the data type (BOOLEAN true/false, DATE/NUMBER numbers, TEXT a string)"),
]

# The spec types dates as `string` / `date-time`, but Bitbucket serialises them as epoch milliseconds
# (notes/bitbucket-api.md §3.7 webhook and §4 build-status examples: "createdDate":1513106011000).
EPOCH_MS_DATES = True

# The error body every Bitbucket error status carries, used where the spec lists no schema for it.
ERROR_SCHEMA = {"$ref": "#/components/schemas/RestErrors"}


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects -> JSON Schema: `nullable: true` admits null; boolean `required`
    (a parameter flag that some generators leave inside schemas) is dropped."""
    if isinstance(node, list):
        return [to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items()}
    if isinstance(out.get("required"), bool):
        del out["required"]
    if out.get("nullable") is True:
        del out["nullable"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "$ref" in out or "type" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass(frozen=True)
class SpecOperation:
    method: str
    path: str  # as written in the spec
    op: dict
    pattern: re.Pattern[str]
    literal: int  # literal characters in the template: the most specific template wins


class SpecChecker:
    """One reference document, indexed for looking up operations by concrete request paths."""

    def __init__(self, spec: dict, prefix: str = "/rest", aliases: tuple[tuple[str, str], ...] = (),
                 errors_schema: dict | None = ERROR_SCHEMA, json_suffix: bool = False) -> None:
        self.prefix = prefix
        self.components = to_json_schema(spec.get("components", {}))
        self.errors_schema = errors_schema
        self.json_suffix = json_suffix
        alias_of = dict(aliases)
        self.operations: list[SpecOperation] = []
        for path, item in spec.get("paths", {}).items():
            for method, op in item.items():
                if not isinstance(op, dict) or method == "parameters":
                    continue
                for template in (path, alias_of[path]) if path in alias_of else (path,):
                    self.operations.append(SpecOperation(method.upper(), path, op, _template_regex(template),
                                                         len(re.sub(r"\{[^}]*\}", "", template))))

    def find(self, method: str, path: str) -> SpecOperation | None:
        """The operation serving `METHOD path` (a full culm path such as `/rest/api/1.0/projects/X`)."""
        if not path.startswith(self.prefix + "/"):
            return None
        rel = _tool_shape_version(path[len(self.prefix):].split("?")[0].rstrip("/"))
        if self.json_suffix and rel.endswith(".json"):
            rel = rel[:-5]
        hits = [o for o in self.operations if o.method == method.upper() and o.pattern.fullmatch(rel)]
        return max(hits, key=lambda o: o.literal) if hits else None

    def validator(self, schema: dict) -> Draft7Validator:
        return Draft7Validator({"allOf": [schema], "components": self.components})

    def problems(self, method: str, path: str, status: int, body: Any, is_json: bool,
                 has_body: bool | None = None) -> list[str]:
        """What is wrong with this response, per the spec (an empty list when nothing is). `body` is the
        parsed JSON when `is_json`; `has_body` says whether a non-JSON response carried any bytes."""
        has_body = body is not None if has_body is None else has_body
        found = self.find(method, path)
        responses = found.op.get("responses", {}) if found else {}
        response = responses.get(str(status)) or responses.get("default")
        if response is None:
            if status >= 400 or found is None:
                # Undocumented error statuses and unknown routes still owe the product's error body.
                if status < 400 or self.errors_schema is None:
                    return []
                if is_json:
                    return self._validate(self.errors_schema, body, found.path if found else None)
                return ["the error body is not JSON"] if has_body else []
            if any(m == found.method and p == found.path and s == status for m, p, s, _ in STATUS_ALLOWED):
                return []
            return [f"status {status} is not a documented response (documented: {', '.join(sorted(responses))})"]
        assert found is not None
        if not is_json:
            # Success content types in the spec are unreliable (it calls `/raw/{path}` JSON); error bodies are not.
            return ["the error body is not JSON"] if has_body and status >= 400 and self.errors_schema else []
        schema = _json_schema_of(response)
        if schema is None:
            return []
        return self._validate(to_json_schema(schema), body, found.path)

    def component_problems(self, name: str, body: Any) -> list[str]:
        """Validate a body against one named schema of `components` (shapes rendered outside a request)."""
        return self._validate({"$ref": f"#/components/schemas/{name}"}, body, None)

    def _validate(self, schema: dict, body: Any, op_path: str | None) -> list[str]:
        errors = sorted(self.validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
        return [_describe(e) for e in errors if not _exempt(e, op_path)]


def _json_schema_of(response: dict) -> dict | None:
    content = response.get("content") or {}
    for ctype, media in content.items():
        if "json" in ctype or ctype == "*/*":
            return (media or {}).get("schema")
    return None


def _template_regex(template: str) -> re.Pattern[str]:
    """`{param}` is one segment; a final `{path}` parameter spans slashes (file paths)."""
    template = _tool_shape_version(template)
    out, pos = [], 0
    params = list(re.finditer(r"\{([^}]*)\}", template))
    for i, m in enumerate(params):
        out.append(re.escape(template[pos:m.start()]))
        last = i == len(params) - 1 and m.end() == len(template)
        out.append("(.+)" if last and m.group(1) == "path" else "([^/]+)")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))


def _tool_shape_version(path: str) -> str:
    return re.sub(r"^/([^/]+)/1\.0(?=/|$)", r"/\1/latest", path)


def _exempt(error: ValidationError, op_path: str | None) -> bool:
    if error.validator != "type":
        return False
    if EPOCH_MS_DATES and isinstance(error.instance, int) and error.schema.get("format") == "date-time":
        return True
    if isinstance(error.instance, str) and any(re.fullmatch(p, error.json_path) for p, _ in STRING_ALLOWED):
        return True
    if op_path is not None and any(re.fullmatch(scope, op_path) and re.fullmatch(p, error.json_path)
                                   for scope, p, _ in ANY_VALUE_ALLOWED):
        return True
    if error.instance is not None:
        return False
    return any((scope is None or (op_path is not None and re.fullmatch(scope, op_path)))
               and re.fullmatch(pattern, error.json_path) for scope, pattern, _ in NULL_ALLOWED)


def _describe(error: ValidationError) -> str:
    if error.context:  # anyOf/oneOf (nullable $refs): say what failed inside the branch that fits best
        error = best_match([error])
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"{error.json_path}: {message}"


@cache
def checker(product: str = "bitbucket") -> SpecChecker:
    tool = _coverage_tool()
    conf = tool.PRODUCTS[product]
    spec = tool.load_spec(product)
    if product == "bamboo":  # Bamboo's error body is its own; JSON also comes with a `.json` suffix
        return SpecChecker(spec, conf.prefix, conf.aliases, errors_schema=None, json_suffix=True)
    return SpecChecker(spec, conf.prefix, conf.aliases)


@cache
def reference_available(product: str) -> bool:
    """Without the reference documents (they live outside the project) nothing is checked: say so once."""
    tool = _coverage_tool()
    path = tool.reference_dir() / tool.PRODUCTS[product].spec_file
    if path.is_file():
        return True
    warnings.warn(f"{path} not found (set CULM_REFERENCE_DIR): {product} responses are not checked against "
                  "the reference schemas", stacklevel=2)
    return False


def product_of(path: str) -> str | None:
    if path.startswith("/rest/"):
        return "bitbucket"
    if path.startswith("/bamboo/rest/"):
        return "bamboo"
    return None


def check_response(method: str, path: str, status: int, body: bytes | Any, content_type: str = "application/json",
                   product: str | None = None) -> None:
    """Raise SpecMismatch if this response breaks the spec; responses outside the REST roots pass."""
    product = product or product_of(path)
    if product is None or not reference_available(product):
        return
    is_json = "json" in content_type.lower()
    has_body = bool(body) if isinstance(body, bytes | str) else body is not None
    if is_json and isinstance(body, bytes | str):
        if not body:
            is_json, body = False, None
        else:
            try:
                body = json.loads(body)
            except ValueError as exc:
                raise SpecMismatch(f"{method} {path} -> {status}: body is not valid JSON ({exc})") from None
    problems = checker(product).problems(method, path, status, body, is_json, has_body)
    if problems:
        found = checker(product).find(method, path)
        where = f"{found.op.get('operationId')} ({found.method} {found.path})" if found else "the error body"
        shown = json.dumps(body)[:600] if is_json else "<not JSON>"
        raise SpecMismatch(f"{method} {path} -> {status} does not match {where}:\n  "
                           + "\n  ".join(problems[:10]) + f"\n  body: {shown}")
