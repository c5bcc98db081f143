"""Time the OLX export against `tar czf` of the same extracted tree.

    .venv/bin/python benchmarks/bench_olx_build.py [--units 1000] [--repeat 5]

Courses: the sample course, and a generated short-form course of ``--units`` units (each an html page
and a two-question quiz, every tenth quiz graded). Times are medians; "load" is source -> block tree,
"export" is tree -> archive, "tar czf" compresses the extracted archive's folder (gzip level 6, the
exporter's level) and is the floor any archive writer has to pay.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tarfile
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from localmooc_packager.exporters.olx import OlxExporter
from localmooc_packager.source import load_course

ROOT = Path(__file__).resolve().parent.parent


def generate(root: Path, units: int) -> Path:
    lines = [
        "id: bench",
        "org: DLA",
        "run: B1",
        "title: หลักสูตรทดสอบความเร็ว",
        "start: 2026-01-01",
        "pass_threshold: 0.6",
        "units:",
    ]
    for n in range(units):
        role = "graded" if n % 10 == 9 else "practice"
        lines.append(
            textwrap.indent(
                textwrap.dedent(
                    f"""\
                    - id: u{n}
                      title: หน่วยที่ {n + 1}
                      blocks:
                        - type: html
                          body: "## หัวข้อ {n + 1}\\n\\nเนื้อหาภาษาไทย **สำคัญ** สำหรับหน่วย {n + 1}"
                        - type: quiz
                          id: q{n}
                          title: แบบทดสอบ {n + 1}
                          role: {role}
                          questions:
                            - type: single-choice
                              prompt: ข้อใดถูก
                              choices: {{a: ก, b: ข, c: ค}}
                              answer: b
                            - type: short-text
                              prompt: ตอบคำว่า น้ำ
                              answer: [น้ำ]
                    """
                ),
                "  ",
            )
        )
    root.mkdir(parents=True)
    (root / "course.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench(course: Path, work: Path, repeat: int, flavor: str) -> dict[str, float | int]:
    tree = load_course(course)
    out = work / f"out-{flavor}"
    archive = OlxExporter().export(tree, out, olx_flavor=flavor)
    extracted = work / f"x-{flavor}"
    with tarfile.open(archive) as tar:
        tar.extractall(extracted, filter="data")
        count = sum(1 for m in tar.getmembers() if m.isfile())
    (top,) = [p.name for p in extracted.iterdir()]
    target = work / f"plain-{flavor}.tar.gz"
    return {
        "files": count,
        "bytes": archive.stat().st_size,
        "load": median_time(lambda: load_course(course), repeat),
        "export": median_time(lambda: OlxExporter().export(tree, out, olx_flavor=flavor), repeat),
        "tar": median_time(
            lambda: subprocess.run(
                ["tar", "-I", "gzip -6", "-cf", str(target), "-C", str(extracted), top],
                check=True,
            ),
            repeat,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        courses = {
            "sample (local-budget-basics)": ROOT / "sample_courses" / "local-budget-basics",
            f"generated, {args.units} units": generate(work / "gen", args.units),
        }
        print("| course | flavour | files | archive | load | export | tar czf |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for label, course in courses.items():
            for flavor in ("stock", "native"):
                sub = work / f"{abs(hash(label))}-{flavor}"
                sub.mkdir()
                r = bench(course, sub, args.repeat, flavor)
                print(
                    f"| {label} | {flavor} | {r['files']} | {int(r['bytes']) / 1024:,.0f} KiB | "
                    f"{r['load'] * 1000:,.0f} ms | {r['export'] * 1000:,.0f} ms | {r['tar'] * 1000:,.0f} ms |"
                )


if __name__ == "__main__":
    main()
