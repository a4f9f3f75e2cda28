"""JUnit reports as real tools write them become suites and cases; hostile XML is refused."""

from __future__ import annotations

import pytest

from blockpost.test_results.junit import MalformedReport, parse

PYTEST = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4"
 time="0.412" timestamp="2026-12-01T16:00:00.000000" hostname="runner">
<testcase classname="tests.test_math" name="test_adds" time="0.001" />
<testcase classname="tests.test_math" name="test_divides" time="0.002">
<failure message="assert 2 == 3">def test_divides():
&gt;       assert 4 / 2 == 3
E       assert 2.0 == 3</failure></testcase>
<testcase classname="tests.test_math" name="test_fixture" time="0.000">
<error message="failed on setup with &quot;RuntimeError: no db&quot;">RuntimeError: no db</error>
</testcase>
<testcase classname="tests.test_math" name="test_later" time="0.000">
<skipped type="pytest.skip" message="not yet">tests/test_math.py:20: not yet</skipped>
</testcase></testsuite></testsuites>
"""

GO_JUNIT_REPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2" failures="1">
\t<testsuite name="example.com/app/store" tests="2" failures="1" errors="0" id="0"
 hostname="ci" time="1.234" timestamp="2026-12-01T16:00:00Z">
\t\t<properties><property name="go.version" value="go1.22.1 linux/amd64"></property></properties>
\t\t<testcase name="TestPut" classname="example.com/app/store" time="0.010"></testcase>
\t\t<testcase name="TestGet" classname="example.com/app/store" time="1.200">
\t\t\t<failure message="Failed"
 type="">store_test.go:31: got &#34;b&#34;, want &#34;a&#34;</failure>
\t\t</testcase>
\t</testsuite>
</testsuites>
"""

JEST = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="2" failures="1" errors="0" time="2.5">
  <testsuite name="cart" errors="0" failures="1" skipped="0" timestamp="2026-12-01T16:00:00"
   time="2.1" tests="2">
    <testcase classname="cart adds an item" name="cart adds an item" time="0.004">
    </testcase>
    <testcase classname="cart totals" name="cart totals" time="0.01">
      <failure>Error: expect(received).toBe(expected)

Expected: 3
Received: 4</failure>
    </testcase>
  </testsuite>
</testsuites>
"""

RSPEC = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="rspec" tests="3" skipped="1" failures="1" errors="0" time="0.0123"
 timestamp="2026-12-01T16:00:00+00:00" hostname="ci">
<properties><property name="seed" value="1234"/></properties>
<testcase classname="spec.models.user_spec" name="User is valid" file="./spec/models/user_spec.rb"
 time="0.001"></testcase>
<testcase classname="spec.models.user_spec" name="User needs an email"
 file="./spec/models/user_spec.rb" time="0.002"><failure message="expected true, got false"
 type="RSpec::Expectations::ExpectationNotMetError">Failure/Error: expect(user).to be_valid
  expected true, got false
# ./spec/models/user_spec.rb:9</failure></testcase>
<testcase classname="spec.models.user_spec" name="User is pending"
 file="./spec/models/user_spec.rb" time="0.000"><skipped/></testcase>
</testsuite>
"""

EXUNIT = b"""<testsuites><testsuite name="Elixir.AppTest" tests="1" failures="0" time="0.01">
<testcase classname="Elixir.AppTest" name="test greets the world" time="0.01"/>
</testsuite></testsuites>"""

MOCHA = b"""<testsuites name="Mocha Tests" time="0.1" tests="1" failures="0">
<testsuite name="Root Suite" tests="0" time="0"/>
<testsuite name="math" tests="1" time="0.1"><testcase name="math adds" classname="adds"
 time="0.1"/></testsuite></testsuites>"""

PHPUNIT_NESTED = b"""<testsuites><testsuite name="all" tests="2">
<testsuite name="Unit" tests="1"><testcase name="testA" class="ATest" time="0.5"/></testsuite>
<testsuite name="Feature" tests="1"><testcase name="testB" time="1,500.25"/></testsuite>
</testsuite></testsuites>"""


def test_pytest_report_has_each_state_with_messages_and_durations() -> None:
    report = parse(PYTEST, filename="report.xml")
    assert (report.name, report.framework) == ("Generic Suite", "generic")
    [suite] = report.suites
    assert suite.name == "pytest"
    assert suite.duration_ns == 412_000_000
    states = {c.name: c.state for c in suite.cases}
    assert states == {
        "test_adds": "passed",
        "test_divides": "failed",
        "test_fixture": "error",
        "test_later": "skipped",
    }
    failed = suite.cases[1]
    assert failed.classname == "tests.test_math"
    assert failed.message == "assert 2 == 3"
    assert "assert 4 / 2 == 3" in failed.body
    assert failed.duration_ns == 2_000_000
    assert suite.cases[2].message == 'failed on setup with "RuntimeError: no db"'


def test_go_junit_report_is_found_to_be_go_by_its_go_version_property() -> None:
    report = parse(GO_JUNIT_REPORT, filename="go.xml")
    assert (report.name, report.framework) == ("Golang Suite", "golang")
    [suite] = report.suites
    assert suite.name == "example.com/app/store"
    assert [c.state for c in suite.cases] == ["passed", "failed"]
    assert suite.cases[1].body == 'store_test.go:31: got "b", want "a"'
    assert suite.cases[1].duration_ns == 1_200_000_000


def test_jest_report_takes_its_name_from_testsuites_and_keeps_a_failure_without_message() -> None:
    report = parse(JEST, filename="junit.xml")
    assert (report.name, report.framework) == ("jest tests", "generic")
    case = report.suites[0].cases[1]
    assert case.state == "failed"
    assert case.message == ""
    assert "Expected: 3" in case.body


def test_rspec_report_without_testsuites_root_keeps_files_and_skips() -> None:
    report = parse(RSPEC, filename="rspec.xml")
    assert (report.name, report.framework) == ("Rspec Suite", "rspec")
    cases = report.suites[0].cases
    assert [c.state for c in cases] == ["passed", "failed", "skipped"]
    assert cases[1].file == "./spec/models/user_spec.rb"
    assert cases[1].type == "RSpec::Expectations::ExpectationNotMetError"


def test_exunit_and_mocha_are_detected_as_semaphores_auto_parser_does() -> None:
    assert parse(EXUNIT, filename="a.xml").framework == "exunit"
    mocha = parse(MOCHA, filename="b.xml")
    assert (mocha.framework, mocha.name) == ("mocha", "Mocha Tests")
    assert [s.name for s in mocha.suites] == ["Root Suite", "math"]


def test_nested_suites_are_flattened_and_odd_times_read() -> None:
    report = parse(PHPUNIT_NESTED, filename="phpunit.xml")
    assert [s.name for s in report.suites] == ["Unit", "Feature"]
    assert report.suites[1].cases[0].duration_ns == 1_500_250_000_000


def test_name_parser_and_suite_prefix_are_honoured_and_an_unknown_parser_is_auto() -> None:
    report = parse(PYTEST, filename="r.xml", name="Unit tests", parser="rspec", suite_prefix="py")
    assert (report.name, report.framework) == ("Unit tests", "rspec")
    assert report.suites[0].name == "py pytest"
    assert parse(GO_JUNIT_REPORT, filename="g.xml", parser="nosuch").framework == "golang"


def test_long_failure_bodies_are_clipped() -> None:
    body = b"x" * 200_000
    xml = b'<testsuite name="s"><testcase name="c"><failure>' + body + b"</failure></testcase>"
    xml += b"</testsuite>"
    case = parse(xml, filename="big.xml").suites[0].cases[0]
    assert len(case.body) == 64 * 1024 + 1
    assert case.body.endswith("…")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<testsuites><testsuite>", "is not well-formed XML (no element found at line 1"),
        (b"", "is not well-formed XML"),
        (b"not xml at all", "is not well-formed XML (syntax error at line 1, column 1)"),
        (b"<html><body/></html>", "the root element is <html>, must be <testsuites> or"),
    ],
)
def test_malformed_reports_are_refused_naming_the_file(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedReport) as raised:
        parse(data, filename="out/junit.xml")
    assert raised.value.message.startswith(f"out/junit.xml: {reason}")


def test_external_entities_are_refused_not_read() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<testsuite name="s"><testcase name="&x;"/></testsuite>'
    )
    with pytest.raises(MalformedReport, match="DTDs and entity declarations are not allowed"):
        parse(xxe, filename="xxe.xml")


def test_entity_expansion_bombs_are_refused() -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE t [{entities}]><testsuite name="&l9;"/>'.encode()
    with pytest.raises(MalformedReport, match="not allowed"):
        parse(bomb, filename="bomb.xml")
