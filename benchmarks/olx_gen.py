"""Generate a large synthetic OLX course and time validate_olx against olxcleaner.validate on it.

    .venv/bin/python benchmarks/olx_gen.py [--chapters 20] [--sequentials 10] [--verticals 5] [--keep DIR]

Each vertical holds an html pointer (html/ID.xml + html/ID.html), a CAPA problem pointer, an inline video
and an inline discussion, so the course has chapters*sequentials*verticals*5 blocks plus the outline.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import statistics
import tempfile
import time
from pathlib import Path

RUN = "2026_T1"

# Content sized like a Studio export: a page of Thai text, a CAPA question with hints and a solution.
PARA = "<p>การคัดแยกขยะที่ต้นทางช่วยลดปริมาณขยะที่ต้องนำไปกำจัด และเพิ่มมูลค่าให้วัสดุรีไซเคิล ({vid})</p>\n"
HTML = (
    "<h3>หัวข้อ {vid}</h3>\n"
    + PARA * 6
    + "<ul>\n"
    + "  <li>ขยะอินทรีย์</li>\n  <li>ขยะรีไซเคิล</li>\n  <li>ขยะทั่วไป</li>\n  <li>ขยะอันตราย</li>\n"
    + '</ul>\n<p><img src="/static/figure.png" alt="แผนภาพ"/></p>\n'
    + '<p><a href="/jump_to_id/p_{vid}">ไปยังคำถาม</a></p>\n'
)
CHOICE = '      <choice correct="{ok}">ตัวเลือก {n}<choicehint>คำใบ้สำหรับตัวเลือก {n}</choicehint></choice>\n'
PROBLEM = (
    '<problem display_name="คำถาม {vid}" max_attempts="2" weight="1.0" showanswer="finished">\n'
    "  <multiplechoiceresponse>\n    <p>ข้อใดเป็นขยะรีไซเคิล ({vid})</p>\n    <label>เลือกคำตอบที่ถูกต้อง</label>\n"
    '    <description>เลือกได้หนึ่งข้อ</description>\n    <choicegroup type="MultipleChoice">\n'
    + "".join(
        CHOICE.replace("{ok}", "true" if n == 2 else "false").replace("{n}", str(n)) for n in range(1, 5)
    )
    + "    </choicegroup>\n  </multiplechoiceresponse>\n"
    '  <solution>\n    <div class="detailed-solution">\n      <p>คำอธิบาย</p>\n      <p>ขวดพลาสติกนำกลับมาใช้ใหม่ได้</p>\n'
    "    </div>\n  </solution>\n  <demandhint>\n    <hint>ดูที่สัญลักษณ์รีไซเคิล</hint>\n"
    "    <hint>พลาสติกหลายชนิดรีไซเคิลได้</hint>\n  </demandhint>\n</problem>\n"
)
# --lean: the smallest content that still exercises every path.
LEAN_HTML = '<h3>หัวข้อ {vid}</h3>\n<p>เนื้อหา <img src="/static/figure.png"/></p>\n<p><a href="/jump_to_id/p_{vid}">ไป</a></p>\n'
LEAN_PROBLEM = (
    '<problem display_name="คำถาม {vid}" max_attempts="2">\n  <multiplechoiceresponse>\n'
    '    <choicegroup type="MultipleChoice">\n      <choice correct="true">ก</choice>\n'
    '      <choice correct="false">ข</choice>\n    </choicegroup>\n  </multiplechoiceresponse>\n</problem>\n'
)


def generate(root: Path, chapters: int, sequentials: int, verticals: int, lean: bool = False) -> int:
    """Write the course under ``root``; return the number of blocks."""
    # Studio-style curly braces in the templates are only {vid}; nothing else is formatted.
    for sub in (
        "course",
        "chapter",
        "sequential",
        "vertical",
        "html",
        "problem",
        "static",
        f"policies/{RUN}",
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "course.xml").write_text(f'<course url_name="{RUN}" org="DLA" course="BIG"/>\n')
    (root / "static/course_image.png").write_bytes(b"\x89PNG fixture")
    (root / "static/figure.png").write_bytes(b"\x89PNG fixture")
    blocks = 1
    chapter_refs = []
    for c in range(chapters):
        seq_refs = []
        for s in range(sequentials):
            vert_refs = []
            for v in range(verticals):
                vid = f"c{c}s{s}v{v}"
                (root / f"html/h_{vid}.xml").write_text(
                    f'<html filename="h_{vid}" display_name="เนื้อหา {vid}"/>\n'
                )
                (root / f"html/h_{vid}.html").write_text(
                    LEAN_HTML.format(vid=vid) if lean else HTML.format(vid=vid)
                )
                (root / f"problem/p_{vid}.xml").write_text(
                    LEAN_PROBLEM.format(vid=vid) if lean else PROBLEM.format(vid=vid)
                )
                (root / f"vertical/v_{vid}.xml").write_text(
                    f'<vertical display_name="หน่วย {vid}">\n  <html url_name="h_{vid}"/>\n'
                    f'  <problem url_name="p_{vid}"/>\n'
                    f'  <video url_name="vid_{vid}" display_name="วิดีโอ" youtube_id_1_0=""/>\n'
                    f'  <discussion url_name="d_{vid}" discussion_id="d_{vid}" discussion_category="บท {c}"'
                    f' discussion_target="หน่วย {vid}"/>\n</vertical>\n'
                )
                vert_refs.append(f'  <vertical url_name="v_{vid}"/>')
                blocks += 5
            sid = f"c{c}s{s}"
            (root / f"sequential/s_{sid}.xml").write_text(
                f'<sequential display_name="เรื่อง {sid}" graded="true" format="Homework" due="2026-06-01">\n'
                + "\n".join(vert_refs)
                + "\n</sequential>\n"
            )
            seq_refs.append(f'  <sequential url_name="s_{sid}"/>')
            blocks += 1
        (root / f"chapter/ch{c}.xml").write_text(
            f'<chapter display_name="บทที่ {c}" start="2026-01-05">\n' + "\n".join(seq_refs) + "\n</chapter>\n"
        )
        chapter_refs.append(f'  <chapter url_name="ch{c}"/>')
        blocks += 1
    (root / f"course/{RUN}.xml").write_text(
        '<course display_name="รายวิชาขนาดใหญ่" start="2026-01-05T00:00:00Z" end="2026-12-20T00:00:00Z"'
        ' course_image="course_image.png">\n' + "\n".join(chapter_refs) + "\n</course>\n"
    )
    (root / f"policies/{RUN}/policy.json").write_text(json.dumps({f"course/{RUN}": {"language": "th"}}))
    (root / f"policies/{RUN}/grading_policy.json").write_text(
        json.dumps(
            {
                "GRADER": [
                    {"type": "Homework", "min_count": 1, "drop_count": 0, "short_label": "HW", "weight": 1}
                ],
                "GRADE_CUTOFFS": {"Pass": 0.5},
            }
        )
    )
    return blocks


def _best(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chapters", type=int, default=20)
    ap.add_argument("--sequentials", type=int, default=10)
    ap.add_argument("--verticals", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--lean", action="store_true", help="minimal html and problem content")
    ap.add_argument("--keep", type=Path, help="write the course here instead of a temporary folder")
    args = ap.parse_args()

    import olxcleaner

    from localmooc_packager.validators.olx import validate_olx

    allowed = sorted({ep.name for ep in importlib.metadata.entry_points(group="xblock.v1")} | {"wiki"})
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "course"
        root.mkdir(parents=True, exist_ok=True)
        blocks = generate(root, args.chapters, args.sequentials, args.verticals, args.lean)
        files = sum(1 for p in root.rglob("*") if p.is_file())
        ours = validate_olx(root)
        _, store, _ = olxcleaner.validate(str(root), steps=8, ignore=[], allowed_xblocks=allowed)
        print(
            f"course: {blocks} blocks, {files} files; our errors: {len(ours.errors)}, "
            f"olxcleaner errors: {sum(1 for e in store.errors if e.level == 'ERROR')}"
        )
        ours_best, ours_med = _best(lambda: validate_olx(root), args.repeat)
        oc_best, oc_med = _best(
            lambda: olxcleaner.validate(str(root), steps=8, ignore=[], allowed_xblocks=allowed), args.repeat
        )
        print(f"validate_olx:        best {ours_best:.3f} s, median {ours_med:.3f} s")
        print(f"olxcleaner.validate: best {oc_best:.3f} s, median {oc_med:.3f} s")
        print(f"speed-up (best): {oc_best / ours_best:.1f}x")


if __name__ == "__main__":
    main()
