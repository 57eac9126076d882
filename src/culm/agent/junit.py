"""JUnit XML reports (Surefire, pytest, Gradle...) to test cases. Parsed with defusedxml, so entity expansion and
external entities in a report written by a build script cannot exhaust or read the agent's machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

try:
    from defusedxml import ElementTree as SafeET
    from defusedxml.common import DefusedXmlException
except ImportError:  # pragma: no cover - defusedxml is a dependency; keep a refusing fallback anyway
    SafeET = None
    DefusedXmlException = ValueError  # type: ignore[assignment,misc]

MAX_ERROR_CHARS = 8000
MAX_REPORT_BYTES = 64 << 20


class ReportInvalid(Exception):
    """The file is not a JUnit report we can read."""


def _parse_file(path: Path) -> Element:
    if path.stat().st_size > MAX_REPORT_BYTES:
        raise ReportInvalid(f"{path.name} is larger than {MAX_REPORT_BYTES >> 20} MiB")
    try:
        if SafeET is not None:
            return SafeET.parse(str(path), forbid_dtd=False, forbid_entities=True, forbid_external=True).getroot()
        import xml.etree.ElementTree as ET  # noqa: N817

        text = path.read_bytes()
        if b"<!ENTITY" in text:
            raise ReportInvalid(f"{path.name} declares XML entities, which are refused")
        return ET.fromstring(text)
    except DefusedXmlException as exc:
        raise ReportInvalid(f"{path.name} was refused: {type(exc).__name__}") from None
    except Exception as exc:  # ParseError and friends
        raise ReportInvalid(f"{path.name} is not valid XML: {exc}") from None


def _duration_ms(raw: str | None) -> int:
    try:
        return max(0, int(round(float((raw or "0").replace(",", "")) * 1000)))
    except ValueError:
        return 0


def _message(element: Element) -> str:
    parts = [element.get("message") or "", (element.text or "").strip()]
    text = "\n".join(p for p in parts if p)
    return text[:MAX_ERROR_CHARS] or element.tag


def parse(path: Path) -> list[dict[str, Any]]:
    """Test cases of one report: {className, methodName, status successful|failed|skipped, durationMs, errors}."""
    root = _parse_file(path)
    if root.tag not in ("testsuites", "testsuite", "testcase"):
        raise ReportInvalid(f"{path.name} is not a JUnit report (root element <{root.tag}>)")
    out: list[dict[str, Any]] = []
    cases = [root] if root.tag == "testcase" else root.iter("testcase")
    for case in cases:
        errors = [_message(e) for e in case if e.tag in ("failure", "error")]
        skipped = any(e.tag == "skipped" for e in case)
        status = "failed" if errors else "skipped" if skipped else "successful"
        out.append({"className": (case.get("classname") or case.get("class") or "")[:1024],
                    "methodName": (case.get("name") or "")[:1024], "status": status,
                    "durationMs": _duration_ms(case.get("time")), "errors": errors})
    return out
