"""How much of the reference OpenAPI documents culm serves: its routes matched against the spec's operations.

    python tools/api_coverage.py [--product bitbucket|bamboo] [--missing] [--extra] [--json]

Routes are matched by shape, not by parameter names (`{projectKey}` and `{key}` are the same segment); a
trailing `{path:path}` route matches a spec path ending in its `{path}` parameter; `/1.0` and `/latest`
are the same version (culm declares `latest` and a middleware maps `1.0` onto it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True)
class Product:
    spec_file: str
    # Where the spec's paths (relative to its `servers` URL, `/rest`) live in culm's URL space.
    prefix: str
    # Spec paths that lack their module prefix in the document, and where a server actually serves them.
    aliases: tuple[tuple[str, str], ...] = ()


PRODUCTS = {
    "bitbucket": Product(
        "bitbucket-dc-10.4-openapi.json", "/rest",
        # notes/bitbucket-api.md §7.7: the global SSH key settings are published without `/ssh/latest`.
        aliases=(("/admin", "/ssh/latest/admin"),
                 ("/admin/supported-key-types", "/ssh/latest/admin/supported-key-types")),
    ),
    "bamboo": Product("bamboo-9.3.2-rest-openapi.json", "/bamboo/rest"),
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as written in the spec (relative to the spec's `/rest` server URL)
    operation_id: str
    tag: str
    shapes: tuple[str, ...]  # the path's shape, plus any alias shapes


def reference_dir() -> Path:
    """`CULM_REFERENCE_DIR`, else the first `shared/reference` beside the repository or one of its parents."""
    env = os.environ.get("CULM_REFERENCE_DIR")
    if env:
        return Path(env)
    for parent in REPO.parents:
        candidate = parent / "shared" / "reference"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "reference"


def load_spec(product: str, ref_dir: Path | None = None) -> dict:
    path = (ref_dir or reference_dir()) / PRODUCTS[product].spec_file
    return json.loads(path.read_text())


_VERSION = re.compile(r"^/([^/]+)/1\.0(?=/|$)")
_PARAM = re.compile(r"\{[^}]*\}")


def shape(path: str) -> str:
    """A spec path with every parameter written `{}` and the module version written `latest`."""
    path = "/" + path.strip("/")
    return _VERSION.sub(r"/\1/latest", _PARAM.sub("{}", path))


def route_pattern(path: str) -> re.Pattern[str]:
    """A regular expression over spec shapes that a route (relative to the product prefix) serves.

    `{name}` and `{name:int}` stand for one spec parameter segment; `{name:path}` (Starlette's
    multi-segment converter) also stands for the spec's trailing `{path}` parameter, or for nothing.
    One parameter also stands for a spec segment of several joined by `-` or `:` (Bamboo's
    `{projectKey}-{buildKey}`): a route taking `{planKey}` serves exactly those paths.
    """
    path = _VERSION.sub(r"/\1/latest", "/" + path.strip("/"))
    out = []
    pos = 0
    for m in _PARAM.finditer(path):
        out.append(re.escape(path[pos:m.start()]))
        out.append(r"(?:/?\{\})?" if m.group(0).endswith(":path}") else r"\{\}(?:[-:]\{\})*")
        pos = m.end()
    out.append(re.escape(path[pos:]))
    return re.compile("".join(out) + r"\Z")


def primary_tag(op: dict) -> str:
    tags = [t for t in op.get("tags") or [] if t != "Deprecated"] or op.get("tags") or ["(untagged)"]
    return tags[0]


def spec_operations(spec: dict, product: Product) -> list[Operation]:
    aliases = dict(product.aliases)
    ops = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            shapes = (shape(path),) + ((shape(aliases[path]),) if path in aliases else ())
            ops.append(Operation(method.upper(), path, op.get("operationId", ""), primary_tag(op), shapes))
    return ops


def app_routes(prefix: str) -> list[tuple[str, str]]:
    """(METHOD, path relative to `prefix`) for every route of a freshly built culm app."""
    from culm.app import create_app
    from culm.core.config import Settings

    with tempfile.TemporaryDirectory(prefix="culm-coverage-") as home:
        settings = Settings(home=Path(home), database_url=f"sqlite:///{Path(home) / 'culm.db'}")
        app = create_app(settings)
        routes = []
        for path, methods in _walk(app.routes):
            if not path.startswith(prefix + "/"):
                continue
            routes += [(m, path[len(prefix):]) for m in sorted(methods) if m != "HEAD"]
        from culm.core import db

        engine = getattr(db, "_engine", None)
        if engine is not None:
            engine.dispose()
        return routes


def _walk(routes: Iterable[object], prefix: str = "") -> Iterable[tuple[str, set[str]]]:
    """(path, methods) of every endpoint, through included routers (FastAPI >= 0.16x keeps them
    nested) and mounted sub-applications."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for ctx in contexts():
                original = ctx.original_route
                path = ctx.path or getattr(original, "path", "")
                yield prefix + path, set(getattr(original, "methods", None) or ())
            continue
        methods = getattr(route, "methods", None)
        if methods is None and getattr(route, "routes", None):
            yield from _walk(route.routes, prefix + getattr(route, "path", ""))  # type: ignore[attr-defined]
        elif methods:
            yield prefix + getattr(route, "path", ""), set(methods)


@dataclass
class Coverage:
    operations: list[Operation]
    covered: set[Operation]
    extra_routes: list[tuple[str, str]]

    def by_tag(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = {}
        for op in self.operations:
            c = counts.setdefault(op.tag, [0, 0])
            c[1] += 1
            c[0] += op in self.covered
        return {tag: (c[0], c[1]) for tag, c in sorted(counts.items())}

    def missing(self) -> list[Operation]:
        return [op for op in self.operations if op not in self.covered]


def match(operations: list[Operation], routes: Iterable[tuple[str, str]]) -> Coverage:
    covered: set[Operation] = set()
    extra = []
    for method, path in routes:
        pattern = route_pattern(path)
        hits = [op for op in operations if op.method == method and any(pattern.match(s) for s in op.shapes)]
        covered.update(hits)
        if not hits:
            extra.append((method, path))
    return Coverage(operations, covered, extra)


def percent(covered: int, total: int) -> str:
    return f"{100 * covered / total:.1f}%" if total else "-"


def report(cov: Coverage, product: str, prefix: str, missing: bool, extra: bool) -> str:
    total, done = len(cov.operations), len(cov.covered)
    lines = [f"{product}: {done}/{total} operations served ({percent(done, total)})", ""]
    width = max([len(t) for t in cov.by_tag()] + [3])
    lines.append(f"{'tag':<{width}}  covered  total")
    for tag, (c, t) in cov.by_tag().items():
        lines.append(f"{tag:<{width}}  {c:>7}  {t:>5}  {percent(c, t)}")
    if missing:
        lines += ["", "missing:"]
        for op in sorted(cov.missing(), key=lambda o: (o.tag, o.path, o.method)):
            lines.append(f"  [{op.tag}] {op.method:<6} {prefix}{op.path}  {op.operation_id}")
    if extra:
        lines += ["", "routes matching no operation of the spec:"]
        lines += [f"  {m:<6} {prefix}{p}" for m, p in sorted(cov.extra_routes, key=lambda r: (r[1], r[0]))]
        lines += [] if cov.extra_routes else ["  (none)"]
    return "\n".join(lines)


def as_json(cov: Coverage, prefix: str) -> dict:
    def op_json(op: Operation) -> dict:
        return {"method": op.method, "path": prefix + op.path, "operationId": op.operation_id, "tag": op.tag}

    return {
        "served": len(cov.covered),
        "total": len(cov.operations),
        "tags": {tag: {"served": c, "total": t} for tag, (c, t) in cov.by_tag().items()},
        "served_operations": [op_json(op) for op in cov.operations if op in cov.covered],
        "missing": [op_json(op) for op in cov.missing()],
        "extra_routes": [{"method": m, "path": prefix + p} for m, p in cov.extra_routes],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--product", choices=sorted(PRODUCTS), action="append",
                        help="only this product (repeatable; default: every product)")
    parser.add_argument("--missing", action="store_true", help="list the operations culm does not serve")
    parser.add_argument("--extra", action="store_true", help="list routes that match no operation")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    ref_dir = reference_dir()
    results: dict[str, dict] = {}
    texts: list[str] = []
    for name in args.product or list(PRODUCTS):
        product = PRODUCTS[name]
        if not (ref_dir / product.spec_file).is_file():
            # The reference documents live outside the project; without them there is nothing to compare.
            note = f"reference document {ref_dir / product.spec_file} not found (set CULM_REFERENCE_DIR)"
            results[name] = {"served": None, "total": None, "error": note}
            texts.append(f"{name}: skipped: {note}")
            continue
        cov = match(spec_operations(load_spec(name, ref_dir), product), app_routes(product.prefix))
        results[name] = as_json(cov, product.prefix)
        texts.append(report(cov, name, product.prefix, args.missing, args.extra))
    print(json.dumps(results, indent=2) if args.json else "\n\n".join(texts))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
