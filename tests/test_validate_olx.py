"""validate_olx on real OLX folders (tests/fixtures/olx, made by make_variants.py) and archives of them."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
from pathlib import Path

import olxcleaner
import pytest

from localmooc_packager.errors import Report, Severity, UsageError
from localmooc_packager.validators.olx import validate_olx

from conftest import pack_folder

FIXTURES = Path(__file__).parent / "fixtures" / "olx"
POLICY = "policies/2026_T1/policy.json"
GRADING = "policies/2026_T1/grading_policy.json"

# (fixture, every error as (code, file, line), warnings that must be among the warnings)
CASES: list[tuple[str, set[tuple[str, str, int]], set[tuple[str, str, int]]]] = [
    ("valid", set(), set()),
    ("missing_course_xml", {("olx-course-xml-missing", "course.xml", 0)}, set()),
    ("pointer_dangling", {("olx-pointer-dangling", "chapter/ch1.xml", 3)}, set()),
    ("url_name_traversal", {("olx-url-name-invalid", "chapter/ch1.xml", 3)}, set()),
    ("xml_invalid", {("olx-xml-invalid", "vertical/v1.xml", 6)}, set()),
    # Studio imports malformed HTML (HtmlBlock only logs it) and browsers repair it: a warning.
    ("html_invalid", set(), {("olx-html-malformed", "html/h1.html", 3)}),
    ("html_file_missing", {("olx-html-file-missing", "html/h1.xml", 1)}, set()),
    ("pointer_invalid", {("olx-pointer-invalid", "vertical/v1.xml", 6)}, set()),
    ("pointer_self", {("olx-pointer-self", "sequential/seq1.xml", 1)}, set()),
    ("pointer_chained", {("olx-pointer-chained", "sequential/seq2.xml", 1)}, set()),
    ("tag_mismatch", {("olx-tag-mismatch", "chapter/ch1.xml", 1)}, set()),
    (
        "unexpected_tags",
        {("olx-tag-unexpected", "chapter/ch1.xml", 3), ("olx-tag-unknown", "vertical/v1.xml", 6)},
        set(),
    ),
    ("unexpected_content", {("olx-content-unexpected", "sequential/seq1.xml", 1)}, set()),
    (
        "policy_bad_json",
        {("olx-policy-invalid-json", POLICY, 4)},
        {("olx-advanced-module-missing", "vertical/v1.xml", 5)},
    ),
    ("policy_missing", {("olx-policy-missing", POLICY, 0)}, set()),
    (
        "run_name_missing",
        {("olx-run-name-missing", "course.xml", 2)},
        {("olx-url-name-missing", "course.xml", 2)},
    ),
    ("policy_format", {("olx-policy-format", POLICY, 1)}, set()),
    (
        "policy_entries",
        {("olx-policy-wrong-type", POLICY, 7), ("olx-policy-entry-invalid", POLICY, 10)},
        {("olx-policy-ref-missing", POLICY, 11)},
    ),
    ("policy_key_invalid", {("olx-policy-key-invalid", POLICY, 7)}, set()),
    ("url_name_duplicate", {("olx-url-name-duplicate", "vertical/v1.xml", 6)}, set()),
    ("discussion_duplicate", {("olx-discussion-id-duplicate", "vertical/v1.xml", 7)}, set()),
    (
        "grading_issues",
        {
            ("olx-grading-invalid", GRADING, 3),  # min_count 0 in the first GRADER entry
            ("olx-grading-weights-sum", GRADING, 2),
            ("olx-grading-cutoff-range", GRADING, 19),  # Pass: 0, which olxcleaner accepts
        },
        set(),
    ),
    (
        "dates_bad",
        {("olx-date-order", "course/2026_T1.xml", 2), ("olx-date-invalid", "sequential/seq1.xml", 1)},
        set(),
    ),
    # Platform defaults: a course without end never closes, one without course_image shows the default.
    ("end_missing", set(), set()),
    ("course_settings_missing", set(), set()),
    (
        "lti_errors",
        {
            ("olx-lti-passport-missing", "vertical/v1.xml", 7),
            ("olx-lti-module-missing", "vertical/v1.xml", 7),
        },
        set(),
    ),
    # olxcleaner keeps the XML start and only warns; the platform uses policy.json's, which is no date.
    ("policy_start_invalid", {("olx-date-invalid", POLICY, 6)}, {("olx-policy-overrides-xml", POLICY, 6)}),
    (
        "non_ascii_names",
        set(),
        {
            ("olx-url-name-non-ascii", "sequential/seq1.xml", 2),
            ("olx-file-name-non-ascii", "vertical/หน่วย1.xml", 0),
        },
    ),
    ("format_unknown", {("olx-grading-format-unknown", "sequential/seq1.xml", 1)}, set()),
    (
        "settings_invalid",
        {("olx-setting-invalid", "problem/p1.xml", 1), ("olx-setting-invalid", "vertical/v1.xml", 6)},
        set(),
    ),
    (
        "ora_dates",
        {("olx-date-invalid", "vertical/v1.xml", 9)},  # no submission dates: ORA's defaults apply
        set(),
    ),
]


def _triples(problems: list) -> set[tuple[str, str, int]]:  # type: ignore[type-arg]
    return {(p.code, p.location.file, p.location.line) for p in problems}


def test_every_fixture_folder_is_in_the_table() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders == {case[0] for case in CASES}


@pytest.mark.parametrize(("fixture", "errors", "warnings"), CASES, ids=[c[0] for c in CASES])
def test_fixture_reports_exactly_its_errors(
    fixture: str, errors: set[tuple[str, str, int]], warnings: set[tuple[str, str, int]]
) -> None:
    report = validate_olx(FIXTURES / fixture)
    assert _triples(report.errors) == errors
    assert warnings <= _triples(report.warnings)
    if fixture == "valid":
        assert report.problems == []


def test_error_counts_match_the_table_one_problem_per_place() -> None:
    # Two problems at one place (settings_invalid has three on problem/p1.xml:1) still count separately.
    report = validate_olx(FIXTURES / "settings_invalid")
    messages = sorted(p.message for p in report.errors)
    assert len(messages) == 4
    assert any("showanswer='sometimes'" in m for m in messages)
    assert any("rerandomize='often'" in m for m in messages)
    assert any("positive number of attempts" in m for m in messages)
    assert any("invalid JSON in 'data'" in m for m in messages)


def test_unknown_tag_message_says_the_platform_drops_it() -> None:
    report = validate_olx(FIXTURES / "unexpected_tags")
    unknown = [p for p in report.errors if p.code == "olx-tag-unknown"]
    assert len(unknown) == 1
    assert "<p>" in unknown[0].message
    assert "silently drop" in unknown[0].message


# olxcleaner ERROR class -> our codes that cover it. olx-run-name-missing covers GradingPolicyIssue because
# without a run name olxcleaner grades an empty policy ("'GRADER' entry not found") instead of finding it.
COUNTERPARTS: dict[str, set[str]] = {
    "CourseXMLDoesNotExist": {"olx-course-xml-missing"},
    "FileDoesNotExist": {"olx-pointer-dangling", "olx-html-file-missing", "olx-url-name-invalid"},
    "InvalidXML": {"olx-xml-invalid"},
    "InvalidHTML": {"olx-html-invalid"},
    "InvalidPointer": {"olx-pointer-invalid"},
    "SelfPointer": {"olx-pointer-self"},
    "PointerAlreadyPointedAt": {"olx-pointer-chained"},
    "TagMismatch": {"olx-tag-mismatch"},
    "UnexpectedTag": {"olx-tag-unexpected", "olx-tag-unknown"},
    "UnexpectedContent": {"olx-content-unexpected"},
    "BadPolicy": {"olx-policy-invalid-json"},
    "PolicyNotFound": {"olx-policy-missing"},
    "NoRunName": {"olx-run-name-missing"},
    "BadPolicyFormat": {"olx-policy-format"},
    "BadEntry": {"olx-policy-entry-invalid"},
    "WrongObjectType": {"olx-policy-wrong-type"},
    "DuplicateURLName": {"olx-url-name-duplicate"},
    "DuplicateID": {"olx-discussion-id-duplicate"},
    "GradingPolicyIssue": {
        "olx-grading-invalid",
        "olx-grading-weights-sum",
        "olx-grading-cutoff-range",
        "olx-run-name-missing",
    },
    "InvalidSetting": {"olx-setting-invalid", "olx-setting-missing", "olx-date-invalid", "olx-date-missing"},
    "LTIError": {"olx-lti-passport-missing", "olx-lti-module-missing"},
}
# olxcleaner ERRORs that are no error on the platform: (fixture, class) -> what the platform does instead.
NOT_ERRORS_ON_THE_PLATFORM = {
    ("html_invalid", "InvalidHTML"): "HtmlBlock imports it and only logs 'Couldn't parse html'",
    ("end_missing", "InvalidSetting"): "CourseFields.end defaults to None: the course never closes",
    ("course_settings_missing", "InvalidSetting"): "CourseFields.course_image has a default image",
    (
        "ora_dates",
        "InvalidSetting",
    ): "ORA defaults submission_start/submission_due (openassessment defaults.py)",
}
ROOT_CAUSES = {"olx-run-name-missing"}  # reported where the cause is, not where olxcleaner sees the effect
# olxcleaner itself crashes on this one: merge_policy unpacks entry.split("/", 1) without checking.
OLXCLEANER_CRASHES = {"policy_key_invalid"}


def _allowed_xblocks() -> list[str]:
    return sorted({ep.name for ep in importlib.metadata.entry_points(group="xblock.v1")} | {"wiki"})


@pytest.mark.parametrize("fixture", [c[0] for c in CASES if c[0] not in OLXCLEANER_CRASHES])
def test_every_olxcleaner_error_has_a_counterpart(fixture: str) -> None:
    path = FIXTURES / fixture
    _, store, _ = olxcleaner.validate(str(path), steps=8, ignore=[], allowed_xblocks=_allowed_xblocks())
    theirs = [e for e in store.errors if e.level == "ERROR"]
    ours = validate_olx(path).errors
    for error in theirs:
        assert error.name in COUNTERPARTS, f"unmapped olxcleaner class {error.name}"
        if (fixture, error.name) in NOT_ERRORS_ON_THE_PLATFORM:
            continue
        codes = COUNTERPARTS[error.name]
        # olxcleaner names files relative to the root, or just 'policy.json': compare the file names.
        their_file = Path(error.filename).name
        matches = [
            p
            for p in ours
            if p.code in codes and (p.code in ROOT_CAUSES or Path(p.location.file).name == their_file)
        ]
        assert matches, f"{fixture}: olxcleaner {error.name} at {error.filename} has no counterpart in {ours}"


def test_olxcleaner_crashes_where_we_report(tmp_path: Path) -> None:
    path = FIXTURES / "policy_key_invalid"
    with pytest.raises(ValueError, match="not enough values to unpack"):
        olxcleaner.validate(str(path), steps=8, ignore=[], allowed_xblocks=_allowed_xblocks())
    assert [p.code for p in validate_olx(path).errors] == ["olx-policy-key-invalid"]


def test_the_fixtures_cover_every_olxcleaner_error_class() -> None:
    seen: set[str] = set()
    for fixture, _, _ in CASES:
        if fixture in OLXCLEANER_CRASHES:
            continue
        _, store, _ = olxcleaner.validate(
            str(FIXTURES / fixture), steps=8, ignore=[], allowed_xblocks=_allowed_xblocks()
        )
        seen |= {e.name for e in store.errors if e.level == "ERROR"}
    assert seen == set(COUNTERPARTS)


@pytest.mark.parametrize(("name", "top"), [("c.tar.gz", "course/"), ("c.zip", "course/"), ("c.tgz", "")])
def test_archive_reports_names_relative_to_the_course_root(tmp_path: Path, name: str, top: str) -> None:
    archive = tmp_path / name
    pack_folder(FIXTURES / "pointer_dangling", archive, top)
    report = validate_olx(archive)
    assert _triples(report.errors) == {("olx-pointer-dangling", "chapter/ch1.xml", 3)}


def test_valid_studio_export_archive_is_clean(tmp_path: Path) -> None:
    archive = tmp_path / "course.tar.gz"
    pack_folder(FIXTURES / "valid", archive, "course/")
    assert validate_olx(archive).problems == []


def test_two_course_xml_in_one_archive_are_ambiguous(tmp_path: Path) -> None:
    both = tmp_path / "both"
    shutil.copytree(FIXTURES / "valid", both / "a")
    shutil.copytree(FIXTURES / "valid", both / "b")
    archive = tmp_path / "two.tar.gz"
    pack_folder(both, archive)
    report = validate_olx(archive)
    assert _triples(report.errors) == {("olx-course-xml-ambiguous", "b/course.xml", 0)}
    assert "a/course.xml, b/course.xml" in report.errors[0].message


def test_studio_export_folder_with_one_top_level_folder(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "xml_invalid", tmp_path / "export" / "course")
    report = validate_olx(tmp_path / "export")
    assert _triples(report.errors) == {("olx-xml-invalid", "vertical/v1.xml", 6)}


def test_symlink_in_a_course_folder_is_not_followed(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(FIXTURES / "valid", course)
    (course / "static" / "outside.txt").symlink_to("/etc/hostname")
    report = validate_olx(course)
    assert report.errors == []
    assert ("olx-file-symlink", "static/outside.txt", 0) in _triples(report.warnings)


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or folder"):
        validate_olx(tmp_path / "nowhere")
    plain = tmp_path / "plain.txt"
    plain.write_text("hello\n")
    with pytest.raises(UsageError, match=r"not a folder or a \.tar\.gz/\.zip archive"):
        validate_olx(plain)


def test_report_is_sorted_and_serialisable() -> None:
    report = validate_olx(FIXTURES / "grading_issues")
    assert isinstance(report, Report)
    lines = [p.location.line for p in report]
    assert lines == sorted(lines)
    assert '"code": "olx-grading-cutoff-range"' in report.to_json()
    assert all(p.severity is Severity.ERROR for p in report.errors)


@pytest.mark.slow
def test_a_large_generated_course_is_valid_for_both_validators(tmp_path: Path) -> None:
    # The speed against olxcleaner is a benchmark figure (benchmarks/run.py, docs/performance.md), not a
    # test: a timed ratio on a shared machine fails by the load, not by the code.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from olx_gen import generate
    finally:
        sys.path.pop(0)
    root = tmp_path / "big"
    root.mkdir()
    blocks = generate(root, chapters=10, sequentials=10, verticals=5)
    assert blocks > 2500
    assert validate_olx(root).errors == []
    _, store, _ = olxcleaner.validate(str(root), steps=8, ignore=[], allowed_xblocks=_allowed_xblocks())
    assert [e.name for e in store.errors if e.level == "ERROR"] == []


def test_policy_values_of_any_json_type_are_reported_not_crashed_on(tmp_path: Path) -> None:
    # policy.json is untrusted: lists, objects, numbers and booleans where strings belong.
    course = tmp_path / "course"
    shutil.copytree(FIXTURES / "valid", course)
    weird: list[object] = [["x"], {"a": 1}, 7, True, None]
    settings = [
        "start",
        "end",
        "due",
        "format",
        "showanswer",
        "rerandomize",
        "attempts",
        "weight",
        "graceperiod",
    ]
    policy = {
        "course/2026_T1": {"advanced_modules": {"not": "a list"}, "lti_passports": 5, "course_image": ["x"]},
        "sequential/seq1": {name: weird[i % len(weird)] for i, name in enumerate(settings)},
        "problem/p1": {name: weird[(i + 1) % len(weird)] for i, name in enumerate(settings)},
    }
    (course / POLICY).write_text(json.dumps(policy, indent=2))
    report = validate_olx(course)
    codes = {p.code for p in report.errors}
    assert codes == {"olx-date-invalid", "olx-setting-invalid", "olx-grading-format-unknown"}
    assert {p.location.file for p in report.errors} == {POLICY}
    invalid = [p.message for p in report.errors if p.code == "olx-setting-invalid"]
    assert any("course_image ['x'] is not a file name" in m for m in invalid)
    assert any("'advanced_modules' {'not': 'a list'} is not a list" in m for m in invalid)
    assert any("'lti_passports' 5 is not a list" in m for m in invalid)


def test_policy_json_nesting_is_bounded_outside_strings_only(tmp_path: Path) -> None:
    # Only brackets outside string literals nest, and an escaped quote does not end a string: the bound
    # is neither dodged by an escaped quote (json.loads would then recurse 2,000 levels deep) nor set off
    # by brackets inside a string.
    course = tmp_path / "course"
    shutil.copytree(FIXTURES / "valid", course)
    deep = '{"course/2026_T1": {"display_name": "5\\" screen", "x": ' + "[" * 2000 + "]" * 2000 + "}}"
    (course / POLICY).write_text(deep, encoding="utf-8")
    problems = [p for p in validate_olx(course).errors if p.code == "olx-policy-invalid-json"]
    assert [p.message for p in problems] == ["JSON nested deeper than 64 levels; refused"]
    shallow = {"course/2026_T1": {"advanced_modules": ["lm-quiz"], "display_name": '"' + "[{" * 70}}
    (course / POLICY).write_text(json.dumps(shallow), encoding="utf-8")
    assert validate_olx(course).errors == []


def test_static_link_verdicts_do_not_depend_on_how_the_file_is_named(tmp_path: Path) -> None:
    # Plain /static/FILE links are known good from the listing; the others (&-escapes, ? and #, names
    # Studio cleans) go through the platform's asset-name rule. The verdicts are the platform's either way.
    course = tmp_path / "course"
    shutil.copytree(FIXTURES / "valid", course)
    for name in ("a b.png", "a&amp;b.png", "ไทย.png", "q?x.png", "sub/dir/c.png"):
        (course / "static" / name).parent.mkdir(parents=True, exist_ok=True)
        (course / "static" / name).write_bytes(b"x")
    links = {
        "/static/a b.png": True,
        "/static/a_b.png": True,  # Studio stores 'a b.png' as 'a_b.png'
        "/static/a&amp;b.png": True,  # unescaped to a&b.png, stored as a_b.png
        "/static/a&amp;amp;b.png": True,  # unescaped to a&amp;b.png: that very file
        "/static/ไทย.png": True,
        "/static/sub/dir/c.png": True,
        "/static/sub_dir_c.png": True,
        "/static/q?x.png": False,  # the query is cut off: /static/q
        "/static/logo.png#top": True,
        "/static/missing.png": False,
        "/static/": False,
    }
    body = "".join(f'<p><img src="{link}"/></p>\n' for link in links)
    (course / "html" / "h1.html").write_text(body, encoding="utf-8")
    report = validate_olx(course)
    missing = {p.message.split(" links to ", 1)[1].split(", which", 1)[0] for p in report.warnings
               if p.code == "olx-static-missing"}  # fmt: skip
    assert missing == {link.replace("&amp;", "&") for link, good in links.items() if not good}
    lines = sorted(p.location.line for p in report.warnings if p.code == "olx-static-missing")
    assert lines == [i for i, good in enumerate(links.values(), 1) if not good]


def test_blocks_never_fill_the_shared_empty_attribute_dicts(tmp_path: Path) -> None:
    # Blocks start with shared empty dicts and replace them (a speed-up): one filled by mistake would
    # leak attributes into every later block of every later run.
    from localmooc_packager.validators import olx

    for fixture in ("policy_entries", "policy_start_invalid", "tag_mismatch", "pointer_chained", "valid"):
        validate_olx(FIXTURES / fixture)
    course = tmp_path / "course"
    shutil.copytree(FIXTURES / "valid", course)
    (course / POLICY).write_text(json.dumps({"course/2026_T1": {"start": "x"}, "html/h1": {"a": 1}}))
    assert validate_olx(course).errors
    assert olx._NO_ATTRS == {} and olx._NO_LOCS == {}
