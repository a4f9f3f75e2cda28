"""Parses one JUnit XML report into suites and cases; no DTDs, so no XXE or entity bombs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from junitparser import Error, Failure, Skipped, TestCase

from blockpost.errors import InvalidInput

# Semaphore's test-results parsers, in the order its `auto` tries them (pkg/parsers).
PARSERS = ("rspec", "exunit", "mocha", "golang", "phpunit", "generic", "embedded")
AUTO = "auto"
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
# A stack trace or captured output can be megabytes; the start says what went wrong.
MAX_TEXT = 64 * 1024
MAX_NAME = 1000
NANOS = 1_000_000_000


@dataclass
class Case:
    name: str
    classname: str
    file: str
    state: str
    duration_ns: int
    message: str = ""
    type: str = ""
    body: str = ""


@dataclass
class Suite:
    name: str
    duration_ns: int
    cases: list[Case] = field(default_factory=list)


@dataclass
class Report:
    name: str
    framework: str
    suites: list[Suite]


class MalformedReport(InvalidInput):
    """The file is not a JUnit report; the message names the file."""


def _clip(text: str | None, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + "…"


def _seconds_to_ns(value: str | None) -> int:
    """JUnit `time` in seconds; some tools write thousands separators, some nothing."""
    try:
        seconds = float((value or "0").replace(",", ""))
    except ValueError:
        return 0
    return round(seconds * NANOS) if math.isfinite(seconds) and seconds > 0 else 0


def _case(elem: Element) -> Case:
    case = TestCase.fromelem(elem)
    out = Case(
        name=_clip(elem.get("name"), MAX_NAME),
        classname=_clip(elem.get("classname"), MAX_NAME),
        file=_clip(elem.get("file"), MAX_NAME),
        state=PASSED,
        duration_ns=_seconds_to_ns(elem.get("time")),
    )
    # A case with both a failure and an error counts as failed, as Semaphore's parsers do.
    for kind, state in ((Failure, FAILED), (Error, ERROR), (Skipped, SKIPPED)):
        result = next((r for r in case.result if isinstance(r, kind)), None)
        if result is not None:
            out.state = state
            out.message = _clip(result.message, MAX_TEXT)
            out.type = _clip(result.type, MAX_NAME)
            out.body = _clip(result.text, MAX_TEXT)
            break
    return out


def _suites(root: Element) -> list[Suite]:
    """Every <testsuite> with its own cases; nested suites (PHPUnit's) are flattened."""
    suites = []
    for elem in root.iter("testsuite"):
        own = elem.findall("testcase")
        if not own and elem.find("testsuite") is not None:
            continue
        cases = [_case(c) for c in own]
        declared = _seconds_to_ns(elem.get("time"))
        suites.append(
            Suite(
                name=_clip(elem.get("name"), MAX_NAME),
                duration_ns=declared or sum(c.duration_ns for c in cases),
                cases=cases,
            )
        )
    return suites


def _properties(elem: Element) -> Iterable[str]:
    return (p.get("name", "") for p in elem.iterfind("properties/property"))


def _detect(root: Element) -> str:
    """The framework as Semaphore's `auto` finds it (pkg/parsers/*.go IsApplicable)."""
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if root.tag == "testsuite" and root.get("name", "").startswith("rspec"):
        return "rspec"
    if any(s.get("name", "").startswith("Elixir.") for s in suites):
        return "exunit"
    if root.tag == "testsuites" and "mocha" in root.get("name", "").lower():
        return "mocha"
    if any("go.version" in _properties(s) for s in suites):
        return "golang"
    return "generic"


def parse(
    data: bytes, *, filename: str, name: str = "", parser: str = AUTO, suite_prefix: str = ""
) -> Report:
    """Raises MalformedReport naming `filename` for anything but a <testsuites> or
    <testsuite> document. An unknown parser name is `auto`, as Semaphore's CLI takes it;
    `suite_prefix` and a space go before each suite's name, as its --suite-prefix does."""
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise MalformedReport(filename, "DTDs and entity declarations are not allowed") from None
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        raise MalformedReport(
            filename, f"is not well-formed XML ({reason} at line {line}, column {column + 1})"
        ) from None
    if root.tag not in {"testsuites", "testsuite"}:
        raise MalformedReport(
            filename,
            f"the root element is <{_clip(root.tag, 100)}>, must be <testsuites> or <testsuite>",
        )
    framework = parser if parser in PARSERS else _detect(root)
    default_name = f"{framework.title()} Suite"
    # Semaphore's generic and mocha parsers name the report after <testsuites name=…>.
    declared = root.get("name", "") if root.tag == "testsuites" else ""
    suites = _suites(root)
    if suite_prefix:
        for suite in suites:
            suite.name = _clip(f"{suite_prefix} {suite.name}", MAX_NAME)
    return Report(
        name=_clip(name or declared or default_name, 255), framework=framework, suites=suites
    )
