"""Generate a synthetic course source of a given size: Thai text, quizzes, and assets of a given total size.

    python benchmarks/gen_course.py OUT_DIR --units 1000 [--questions 5] [--asset-mb 10]

Sizes used by the benchmark: S = 100, M = 1,000, L = 5,000 units. Units are written to one file per
section of 50 (full form), as a large real course would be; assets are incompressible bytes so that
archive writers cannot cheat on them.
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

WORDS = [
    *[
        "งบประมาณ",
        "ท้องถิ่น",
        "รายได้",
        "ภาษี",
        "ข้อบัญญัติ",
        "สภา",
        "ผู้บริหาร",
        "เทศบาล",
        "ตำบล",
        "จังหวัด",
        "ประชาชน",
        "บริการ",
        "สาธารณะ",
    ],
    *["การประเมิน", "บุคลากร", "กฎหมาย", "ระเบียบ", "พัสดุ", "การเงิน", "การคลัง", "แผนพัฒนา", "โครงการ"],
]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def generate(out: Path, units: int, questions: int = 5, asset_mb: float = 0.0, seed: int = 7) -> Path:
    rng = random.Random(seed)  # noqa: S311 (test data)
    out.mkdir(parents=True, exist_ok=False)
    (out / "sections").mkdir()
    (out / "static").mkdir()
    per_section = 50
    n_sections = (units + per_section - 1) // per_section
    section_refs = []
    unit_no = 0
    for s in range(n_sections):
        lines = [f"id: s{s}", f"title: ส่วนที่ {s + 1} {_text(rng, 3)}", "subsections:"]
        count = min(per_section, units - unit_no)
        lines += [f"  - id: s{s}-sub", f"    title: ตอนที่ {s + 1}", "    units:"]
        for _ in range(count):
            u = unit_no
            unit_no += 1
            lines += [
                f"      - id: u{u}",
                f"        title: หน่วยที่ {u + 1} {_text(rng, 4)}",
                "        blocks:",
                "          - type: html",
                "            body: |",
                f"              ## {_text(rng, 3)}",
                "",
                f"              {_text(rng, 60)}",
                "",
                f"              - {_text(rng, 8)}",
                f"              - {_text(rng, 8)}",
            ]
            if u % 5 == 4:
                lines += [
                    "          - type: quiz",
                    f"            id: quiz{u}",
                    "            role: practice",
                    "            questions:",
                ]
                for q in range(questions):
                    lines += [
                        "              - type: single-choice",
                        f"                prompt: ข้อ {q + 1} {_text(rng, 10)}",
                        f"                choices: {{a: {_text(rng, 2)}, b: {_text(rng, 2)}, c: {_text(rng, 2)}}}",
                        "                answer: b",
                        f"                explain: {_text(rng, 12)}",
                    ]
        (out / "sections" / f"s{s}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        section_refs.append(f"  - include: sections/s{s}.yaml")
    section_refs += [
        "  - id: final",
        "    title: การวัดผล",
        "    subsections:",
        "      - id: final-sub",
        "        title: แบบทดสอบหลังเรียน",
        "        units:",
        "          - id: final-unit",
        "            title: แบบทดสอบหลังเรียน",
        "            blocks:",
        "              - type: quiz",
        "                id: post",
        "                role: post-test",
        "                questions:",
        "                  - {type: numeric, prompt: สองบวกสอง, answer: 4}",
    ]
    asset_lines = []
    if asset_mb > 0:
        # Several files, like videos and PDFs of a real course; random bytes do not compress.
        remaining = int(asset_mb * 1024 * 1024)
        i = 0
        while remaining > 0:
            size = min(remaining, 64 * 1024 * 1024)
            with (out / "static" / f"media{i}.bin").open("wb") as f:
                left = size
                while left:
                    chunk = min(left, 1 << 20)
                    f.write(os.urandom(chunk))
                    left -= chunk
            remaining -= size
            i += 1
    course = [
        f"id: synthetic-{units}",
        "org: BENCH",
        'run: "2569_1"',
        f"title: หลักสูตรทดสอบขนาด {units} หน่วย",
        "category: local-finance",
        "start: 2026-10-01",
        "end: 2027-03-31",
        "pass_threshold: 0.6",
        *asset_lines,
        "sections:",
        *section_refs,
    ]
    (out / "course.yaml").write_text("\n".join(course) + "\n", encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--asset-mb", type=float, default=0.0)
    args = parser.parse_args()
    generate(args.out, args.units, args.questions, args.asset_mb)
    print(args.out)


if __name__ == "__main__":
    main()
