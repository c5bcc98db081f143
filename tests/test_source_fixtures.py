"""Every bad source fixture under tests/fixtures/source/ with its exact messages, in the order printed.

Paths in the expected lines are relative to the fixture folder; the test puts the prefix back."""

from __future__ import annotations

import pytest

from localmooc_packager.cli import main

from conftest import FIXTURES

CASES: dict[str, list[str]] = {
    "thai-text": [
        "course.yaml:4:12: warning: title: Thai sara am typed as nikhahit + sara aa (◌ํ + า); retype it as ำ [thai-sara-am]",
        "course.yaml:13:28: warning: units[1].blocks[1].body: Thai sara am typed as nikhahit + sara aa (◌ํ + า); retype it as ำ [thai-sara-am]",
        "course.yaml:14:26: warning: units[1].blocks[1].body: ◌่ + ◌ี typed in the wrong order; retype it as ◌ี + ◌่ [thai-mark-order]",
        "course.yaml:14:33: warning: units[1].blocks[1].body: two sara e (เ + เ) typed for sara ae; retype it as แ [thai-sara-e-twice]",
        "static/clip.th.vtt:4:6: warning: Thai sara am typed as nikhahit + sara aa (◌ํ + า); retype it as ำ [thai-sara-am]",
        "units/steps.md:3:13: warning: two marks stacked on one letter (◌้ + ◌้); delete one [thai-mark-repeated]",
        "units/steps.md:4:10: warning: two marks stacked on one letter (◌ั + ◌ั); delete one [thai-mark-repeated]",
        "units/steps.md:5:2: warning: the mark ◌่ has no consonant under it; retype the word [thai-mark-alone]",
        "units/steps.md:5:31: warning: ำ + ◌้ typed in the wrong order; retype it as ◌้ + ำ [thai-mark-order]",
    ],
    "third-party-fields": [
        "course.yaml:13:9: units[1].blocks[1].max_vlaue: slider_demo has no field 'max_vlaue'; did you mean 'max_value'? [xblock-field-unknown]",
        "course.yaml:15:9: units[1].blocks[2].value: field 'value' of slider_demo is learner state (user_state); only content and settings fields belong in a course [xblock-field-scope]",
        "course.yaml:17:21: units[1].blocks[3].input_type: bad value for textinput_demo.input_type: Value stored in a String must be None or a string, found <class 'list'> [xblock-field-value]",
    ],
    "bad-yaml": [
        "course.yaml:3:8: invalid YAML: the [ opened here is not closed with ] (or a comma is missing between items) [yaml-invalid]",
    ],
    "buddhist-era": [
        "course.yaml:5:8: start: 2569-01-05 has a Buddhist-era year (พ.ศ. 2569 = ค.ศ. 2026); dates are written in the Common Era: write 2026-01-05 [date-buddhist-era]",
        "course.yaml:7:19: enrollment_start: 2568-02-29 has a Buddhist-era year (พ.ศ. 2568 = ค.ศ. 2025); dates are written in the Common Era: C.E. 2025 has no 29 February; check the date [date-buddhist-era]",
        "course.yaml:8:17: enrollment_end: 2569-03-31T16:30+07:00 has a Buddhist-era year (พ.ศ. 2569 = ค.ศ. 2026); dates are written in the Common Era: write 2026-03-31T16:30+07:00 [date-buddhist-era]",
        "course.yaml:16:14: sections[1].subsections[1].due: 2569-06-30 has a Buddhist-era year (พ.ศ. 2569 = ค.ศ. 2026); dates are written in the Common Era: write 2026-06-30 [date-buddhist-era]",
    ],
    "dates-and-structure": [
        "course.yaml:6:6: end: end (2022-03-31) must be after start (2022-10-01) [dates-order]",
        "course.yaml:7:19: enrollment_start: '2022-13-01' is not a valid date [date-invalid]",
        "course.yaml:8:17: warning: pass_threshold: pass_threshold is set but no quiz is graded or a post-test [grading-nothing-graded]",
        "course.yaml:9:25: certificate.requires: the certificate requires a post-test but no quiz has `role: post-test` [certificate-post-test-missing]",
        "course.yaml:19:21: sections[1].subsections[1].units[1].blocks: the unit has no blocks [unit-empty]",
        "course.yaml:22:18: sections[2].subsections: the section has no subsections [section-empty]",
    ],
    "duplicate-ids": [
        "course.yaml:13:13: units[1].blocks[2].id: id 'page' used twice (first at line 10) [id-duplicate]",
        "course.yaml:15:9: units[2].id: id 'intro' used twice (first at line 6) [id-duplicate]",
        "course.yaml:22:36: units[2].blocks[1].questions[2].id: question id 'a' used twice in this quiz (also question 1) [quiz-question-id-duplicate]",
    ],
    "follow-on": [
        "course.yaml:13:9: units[2].id: id 'intro' used twice (first at line 6) [id-duplicate]",
        "course.yaml:26:21: units[2].blocks[3].questions[1].answer: 3 is not one of the choices a, b (an answer names a choice by its id, not by its number) [quiz-answer-unknown]",
        "course.yaml:29:22: units[2].blocks[3].questions[2].choices: choices are a mapping of choice id to text ({a: ..., b: ...}), not a list [schema]",
        "course.yaml:35:17: units[2].blocks[3].questions[4].id: question id 'q1' used twice in this quiz (also question 1, whose automatic id it is) [quiz-question-id-duplicate]",
    ],
    "included-bad": [
        "units/binary.yaml:2: binary data (NUL byte) where text was expected [file-encoding]",
        "units/latin1.yaml:2:11: not valid UTF-8 (byte 0xe9) [file-encoding]",
        "units/u1.yaml:7:13: warning: blocks[1].weight: weight is ignored: a practice quiz is never graded [quiz-weight-ignored]",
        "units/u1.yaml:12:48: warning: blocks[1].questions[1].explain: Thai sara am typed as nikhahit + sara aa (◌ํ + า); retype it as ำ [thai-sara-am]",
    ],
    "misplaced-keys": [
        "course.yaml:10:5: units[1].body: 'body' is not a key here, and it is indented less than the item above it: to belong to the item at line 9 (`- type: html`), indent it by 8 spaces, like its `type:` [unknown-key]",
        "course.yaml:19:9: units[2].blocks[1].answer: 'answer' is not a key here, and it is indented less than the item above it: to belong to the item at line 17 (`- type: true-false`), indent it by 12 spaces, like its `type:` [unknown-key]",
    ],
    "missing-files": [
        "course.yaml:5:8: image: file 'static/card.png' not found [asset-missing]",
        "course.yaml:7:14: units[1].include: file 'units/nowhere.yaml' not found [file-missing]",
        "course.yaml:12:15: units[2].blocks[1].file: file 'units/intro.md' not found [file-missing]",
        "course.yaml:16:14: units[2].blocks[3].src: file 'static/clip.mp4' not found [asset-missing]",
        "course.yaml:19:14: units[2].blocks[4].src: 'media/clip.mp4': course assets live in static/ (it is copied into every package) [asset-outside-static]",
        "course.yaml:22:15: units[2].blocks[5].file: '../outside.yaml' is not allowed here: use a relative path inside the course folder with ASCII letters, digits, '_', '-', '.', '/' [schema]",
        "units/page.md:3:8: 'static/missing.png' not found [asset-missing]",
        "units/page.md:5:11: warning: https://cdn.example.com/x.png is on the network: offline packages (SCORM) cannot show it [content-network-url]",
    ],
    "legacy-encoding": [
        "units/budget.yaml:2:9: not valid UTF-8 (byte 0xa7): the file looks like Thai saved as TIS-620 / windows-874 by an older program; convert it with: localmooc fix-encoding units/budget.yaml [file-encoding]",
        "units/notes.md:1:4: not valid UTF-8 (byte 0xba): the file looks like Thai saved as TIS-620 / windows-874 by an older program; convert it with: localmooc fix-encoding units/notes.md [file-encoding]",
    ],
    "links": [
        "course.yaml:6:54: description: 'static/bins.png' not found; did you mean 'static/waste-bins.png'? [asset-missing]",
        "course.yaml:18:34: units[1].blocks[2].body: 'static/img/compst.png' not found; did you mean 'static/img/compost.png'? [asset-missing]",
        "course.yaml:18:70: warning: units[1].blocks[2].body: https://example.org/guide is on the network: offline packages (SCORM) cannot show it [content-network-url]",
        "course.yaml:25:29: units[1].blocks[3].questions[1].explain: '../static/img/compost.png' points outside the course folder [path-outside]",
        "units/bins.md:4:11: 'waste-bin.png' not found (looked for units/waste-bin.png); did you mean '../static/waste-bins.png'? [asset-missing]",
        "units/bins.md:4:54: 'waste-bins.png' is units/waste-bins.png, outside static/: move it into static/ so that packages carry it [asset-outside-static]",
        "units/bins.md:6:63: '../../outside.pdf' points outside the course folder [path-outside]",
        "units/bins.md:14:12: '../static/leaflet.pdf' not found (looked for static/leaflet.pdf) [asset-missing]",
    ],
    "quiz-answer-unknown": [
        "course.yaml:16:21: units[1].blocks[1].questions[1].answer: 'd' is not one of the choices a, b [quiz-answer-unknown]",
        "course.yaml:20:21: units[1].blocks[1].questions[2].answer: a single-choice question has exactly one correct answer, not 2 (use multiple-choice for several) [quiz-single-answer-count]",
        "course.yaml:24:25: units[1].blocks[1].questions[3].answer[2]: 'z' is not one of the choices a, b [quiz-answer-unknown]",
        "course.yaml:25:24: units[1].blocks[1].questions[3].feedback.q: feedback for 'q', which is not one of the choices a, b [quiz-feedback-unknown]",
    ],
    "schema-values": [
        "course.yaml:1:5: id: 'หลักสูตร' is not allowed here: use ASCII letters, digits, '_', '-' or '.', starting with a letter or digit (at most 64) [schema]",
        "course.yaml:3:6: run: '2565 1' is not allowed here: use ASCII letters, digits, '_', '-' or '.', starting with a letter or digit (at most 64) [schema]",
        "course.yaml:4:8: title: '' should be non-empty [schema]",
        "course.yaml:5:11: category: 'finance' is not one of local-finance, local-personnel, public-services, local-law, local-knowledge, admin-techniques, dla-facts (or its Thai name); did you mean 'local-finance'? [schema]",
        "course.yaml:6:12: audience[1]: 'staff' is not one of dla-staff, local-staff, public (or its Thai name); did you mean 'dla-staff'? [schema]",
        "course.yaml:7:8: hours: 0 is less than or equal to the minimum of 0 [schema]",
        "course.yaml:8:17: warning: pass_threshold: pass_threshold is set but no quiz is graded or a post-test [grading-nothing-graded]",
        "course.yaml:8:17: pass_threshold: 1.5 is greater than the maximum of 1 [schema]",
        "course.yaml:9:28: certificate.min_minutes: -5 is less than the minimum of 0 [schema]",
        "course.yaml:16:17: units[1].blocks[1].weight: -1 is less than the minimum of 0 [schema]",
        "course.yaml:17:19: units[1].blocks[1].attempts: 1.5 is not of type 'integer' [schema]",
        "course.yaml:21:21: units[1].blocks[1].questions[1].answer: 'สี่' is not of type 'number' [schema]",
        "course.yaml:22:24: units[1].blocks[1].questions[1].tolerance: '5 percent' is not allowed here: must match ^\\d+(\\.\\d+)?%$ [schema]",
    ],
    "units-and-sections": [
        "course.yaml:1:1: use either `units:` (short form) or `sections:` (full form), not both [course-structure]",
        "course.yaml:8:39: sections[1].subsections: the section has no subsections [section-empty]",
    ],
    "unknown-keys-and-types": [
        "course.yaml:4:1: titel: unknown key 'titel'; did you mean 'title'? [unknown-key]",
        "course.yaml:10:15: units[1].blocks[1].type: unknown block type 'vidoe'; did you mean 'video'? [block-type-unknown]",
        "course.yaml:12:15: units[1].blocks[2].type: needs one of `body`, `file` [html-body]",
        "course.yaml:13:9: units[1].blocks[2].bdy: unknown key 'bdy'; did you mean 'body'? [unknown-key]",
        "course.yaml:16:15: units[1].blocks[3].role: 'post_test' is not one of pre-test, practice, graded, post-test; did you mean 'post-test'? [schema]",
        "course.yaml:18:19: units[1].blocks[3].questions[1].type: 'singel-choice' is not one of single-choice, multiple-choice, true-false, numeric, short-text; did you mean 'single-choice'? [schema]",
    ],
    "yaml-slips": [
        "units/body-dedented.yaml:8:4: invalid YAML: the indentation (การเยื้อง) does not line up: this line is indented by 3 spaces, but the block it belongs to (opened at line 7: `- type: html`) indents its lines by 4; indent this line by 4 spaces [yaml-invalid]",
        'units/colon-in-title.yaml:2:15: invalid YAML: a second `: ` on one line: YAML reads only one `key: value` per line; put text that holds `: ` in quotes (title: "บทที่ 3: น้ำหมักชีวภาพ") [yaml-invalid]',
        "units/item-dedented.yaml:6:2: invalid YAML: the indentation (การเยื้อง) does not line up: this line is indented by 1 space, but the block it belongs to (opened at line 3: `blocks:`) indents its lines by 2; indent this line by 2 spaces [yaml-invalid]",
        "units/key-indented.yaml:3:3: invalid YAML: the indentation (การเยื้อง) does not line up: this line is indented by 2 spaces, but it continues the top level of the file, whose keys start at column 1 (line 1: `id: u2`); remove the spaces before it [yaml-invalid]",
        "units/quote.yaml:2:8: invalid YAML: this quote is never closed: end the text with the same quote mark it starts with [yaml-invalid]",
        "units/tab.yaml:5:1: invalid YAML: a tab character: YAML indents with spaces only (การเยื้องต้องใช้ช่องว่าง); replace the tab with spaces [yaml-invalid]",
    ],
    "yaml-unsafe": [
        "course.yaml:4:8: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed (only plain data) [yaml-invalid]",
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_fixture_exact_messages(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    folder = FIXTURES / "source" / name
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--strict", str(folder.relative_to(FIXTURES.parent.parent))])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.splitlines()
    prefix = f"tests/fixtures/source/{name}/"
    assert [line.replace(prefix, "") for line in err] == CASES[name]


def test_thai_category_and_audience_names_mean_their_codes() -> None:
    from localmooc_packager.source import load_course

    course = load_course(FIXTURES / "source" / "thai-names").course
    assert course.category == "local-law"
    assert course.audience == ["local-staff", "public"]  # ประชาชน and public are one group
