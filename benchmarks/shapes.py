"""The benchmark corpus: six shapes of course source, each at any number of units, generated once into a cache.

    .venv/bin/python benchmarks/shapes.py [--units 100,1000,5000] [--shapes markdown,...] [--cache DIR]

Shapes (every one validates clean, with a post-test so that nothing warns):

- ``markdown``: Markdown bodies inline in YAML, a practice quiz every fifth unit, one file per 50 units
  (benchmarks/gen_course.py, the shape of the earlier benchmarks);
- ``html-files``: each unit's body an HTML file under pages/ with 8 asset links (relative `../../static/`,
  `/static/` and `static/` forms) into a pool of small images and PDFs;
- ``imported``: the output of `localmooc import` of a generated Studio course (html pointers with asset
  links, a multiple-choice problem per unit that becomes a practice quiz, 2 KB of assets per unit: 10 MB at
  5,000 units); the Studio archive is kept beside it for the import benchmark;
- ``quiz-heavy``: every unit a quiz of 10 questions of all five types;
- ``asset-heavy``: thousands of small files (at least 1,000; 3 per unit), every unit embedding three;
- ``deep-include``: full form where every section, subsection and unit is its own file (`include:`) and
  every second unit's quiz is a quiz `file:`.

Generation is deterministic (fixed seeds, no timestamps in the archive). A finished course is marked by a
file ``.complete`` in its folder, so an interrupted run regenerates it; the cache key carries
``VERSION``, bumped whenever a generator changes.
"""

from __future__ import annotations

import argparse
import gzip
import io
import math
import random
import shutil
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_course import WORDS
from gen_course import generate as generate_markdown

VERSION = 2
SHAPES = ("markdown", "html-files", "imported", "quiz-heavy", "asset-heavy", "deep-include")
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache" / "shapes"
DONE = ".complete"


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


def _dump(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096)
    path.write_text(text, encoding="utf-8")


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _header(units: int, shape: str) -> dict[str, Any]:
    return {
        "id": f"{shape}-{units}",
        "org": "BENCH",
        "run": "2569_1",
        "title": f"หลักสูตรทดสอบ {shape} {units} หน่วย",
        "category": "local-finance",
        "start": "2026-10-01",
        "end": "2027-03-31",
        "pass_threshold": 0.6,
    }


def _post_test() -> dict[str, Any]:
    return {
        "id": "final",
        "title": "การวัดผล",
        "subsections": [
            {
                "id": "final-sub",
                "title": "แบบทดสอบหลังเรียน",
                "units": [
                    {
                        "id": "final-unit",
                        "title": "แบบทดสอบหลังเรียน",
                        "blocks": [
                            {
                                "type": "quiz",
                                "id": "post",
                                "role": "post-test",
                                "questions": [{"type": "numeric", "prompt": "สองบวกสอง", "answer": 4}],
                            }
                        ],
                    }
                ],
            }
        ],
    }


def _questions(rng: random.Random, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for q in range(count):
        kind = q % 5
        prompt = f"ข้อ {q + 1} {_text(rng, 10)}"
        if kind == 0:
            out.append(
                {
                    "type": "single-choice",
                    "prompt": prompt,
                    "choices": {"a": _text(rng, 2), "b": _text(rng, 2), "c": _text(rng, 2)},
                    "answer": "b",
                    "explain": _text(rng, 12),
                }
            )
        elif kind == 1:
            out.append(
                {
                    "type": "multiple-choice",
                    "prompt": prompt,
                    "choices": {
                        "a": _text(rng, 2),
                        "b": _text(rng, 2),
                        "c": _text(rng, 2),
                        "d": _text(rng, 2),
                    },
                    "answer": ["a", "c"],
                    "explain": _text(rng, 8),
                }
            )
        elif kind == 2:
            out.append(
                {"type": "true-false", "prompt": prompt, "answer": q % 2 == 0, "explain": _text(rng, 8)}
            )
        elif kind == 3:
            out.append({"type": "numeric", "prompt": prompt, "answer": 2500 + q, "explain": _text(rng, 6)})
        else:
            out.append(
                {"type": "short-text", "prompt": prompt, "answer": ["สถ.", "สถ"], "explain": _text(rng, 6)}
            )
    return out


def _random_file(rng: random.Random, path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(rng.randbytes(size))


def _svg(rng: random.Random, size: int) -> str:
    shapes = "".join(
        f'<rect x="{rng.randrange(200)}" y="{rng.randrange(200)}" width="{rng.randrange(1, 50)}" height="9"/>\n'
        for _ in range(size // 60)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">\n<title>{_text(rng, 3)}</title>\n{shapes}</svg>\n'


def _sections(units: list[dict[str, Any]], per: int = 50) -> list[dict[str, Any]]:
    sections = []
    for s in range(math.ceil(len(units) / per)):
        chunk = units[s * per : (s + 1) * per]
        sections.append(
            {
                "id": f"s{s}",
                "title": f"ส่วนที่ {s + 1}",
                "subsections": [{"id": f"s{s}-sub", "title": f"ตอนที่ {s + 1}", "units": chunk}],
            }
        )
    return sections


# ---- shapes


def _markdown(out: Path, units: int) -> None:
    generate_markdown(out, units)


def _html_files(out: Path, units: int) -> None:
    rng = random.Random(11)  # noqa: S311 (test data)
    figures, docs = 200, 50
    for k in range(figures):
        _random_file(rng, out / "static" / "img" / f"fig{k}.png", 512)
    for k in range(docs):
        _random_file(rng, out / "static" / "docs" / f"doc{k}.pdf", 512)
    items = []
    for u in range(units):
        folder = f"pages/p{u // 100}"
        figs = [(u * 7 + j) % figures for j in range(5)]
        doc = u % docs
        page = (
            f"<h2>{_text(rng, 3)}</h2>\n<p>{_text(rng, 40)}</p>\n"
            f'<p><img src="../../static/img/fig{figs[0]}.png" alt="{_text(rng, 2)}"/>'
            f' <img src="/static/img/fig{figs[1]}.png" alt=""/></p>\n'
            f'<figure><img src="../../static/img/fig{figs[2]}.png" alt=""/>'
            f"<figcaption>{_text(rng, 4)}</figcaption></figure>\n"
            f'<p>{_text(rng, 30)} <a href="../../static/docs/doc{doc}.pdf">{_text(rng, 2)}</a></p>\n'
            f'<ul><li><a href="/static/docs/doc{(doc + 1) % docs}.pdf">เอกสาร</a></li>'
            f'<li><img src="static/img/fig{figs[3]}.png" alt=""/></li></ul>\n'
            f'<p><img src="../../static/img/fig{figs[4]}.png" alt=""/> {_text(rng, 20)}</p>\n'
            f'<p><a href="../../static/img/fig{figs[0]}.png">ภาพขยาย</a></p>\n'
        )
        path = out / folder / f"u{u}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        blocks: list[dict[str, Any]] = [{"type": "html", "file": f"{folder}/u{u}.html"}]
        if u % 5 == 4:
            blocks.append(
                {"type": "quiz", "id": f"quiz{u}", "role": "practice", "questions": _questions(rng, 3)}
            )
        items.append({"id": f"u{u}", "title": f"หน่วยที่ {u + 1} {_text(rng, 3)}", "blocks": blocks})
    _dump(
        {**_header(units, "html-files"), "sections": [*_sections(items), _post_test()]}, out / "course.yaml"
    )


def _quiz_heavy(out: Path, units: int) -> None:
    rng = random.Random(13)  # noqa: S311 (test data)
    items = [
        {
            "id": f"u{u}",
            "title": f"หน่วยที่ {u + 1} {_text(rng, 3)}",
            "blocks": [
                {
                    "type": "quiz",
                    "id": f"quiz{u}",
                    "title": f"แบบฝึกหัด {u + 1}",
                    "role": "practice",
                    "questions": _questions(rng, 10),
                }
            ],
        }
        for u in range(units)
    ]
    refs = []
    for s, section in enumerate(_sections(items)):
        _dump(section, out / "sections" / f"s{s}.yaml")
        refs.append({"include": f"sections/s{s}.yaml"})
    _dump({**_header(units, "quiz-heavy"), "sections": [*refs, _post_test()]}, out / "course.yaml")


def _asset_heavy(out: Path, units: int) -> None:
    rng = random.Random(17)  # noqa: S311 (test data)
    per_unit = max(3, math.ceil(1000 / units))
    items = []
    for u in range(units):
        folder = f"static/a{u // 100}"
        names = []
        for k in range(per_unit):
            suffix = ("png", "jpg", "svg", "pdf")[k % 4]
            name = f"{folder}/u{u}-{k}.{suffix}"
            size = 1024 + (u * 31 + k * 17) % 3072
            if suffix == "svg":  # a text file, which validation reads (Thai typing checks)
                (out / name).write_text(_svg(rng, size), encoding="utf-8")
            else:
                _random_file(rng, out / name, size)
            names.append(name)
        body = (
            f"## {_text(rng, 3)}\n\n{_text(rng, 30)}\n\n"
            f"![{_text(rng, 2)}]({names[0]})\n\n{_text(rng, 20)} ![]({names[1]})\n\n"
            f"[{_text(rng, 2)}](/{names[2]})\n"
        )
        items.append(
            {
                "id": f"u{u}",
                "title": f"หน่วยที่ {u + 1} {_text(rng, 3)}",
                "blocks": [{"type": "html", "body": body}],
            }
        )
    refs = []
    for s, section in enumerate(_sections(items)):
        _dump(section, out / "sections" / f"s{s}.yaml")
        refs.append({"include": f"sections/s{s}.yaml"})
    _dump({**_header(units, "asset-heavy"), "sections": [*refs, _post_test()]}, out / "course.yaml")


def _deep_include(out: Path, units: int) -> None:
    rng = random.Random(19)  # noqa: S311 (test data)
    per_sub, per_section = 10, 5
    sections: list[dict[str, Any]] = []
    u = 0
    s = 0
    while u < units:
        subs = []
        for j in range(per_section):
            if u >= units:
                break
            base = f"sections/s{s}/sub{j}"
            unit_refs = []
            for _ in range(min(per_sub, units - u)):
                blocks: list[dict[str, Any]] = [
                    {"type": "html", "body": f"## {_text(rng, 3)}\n\n{_text(rng, 50)}\n\n- {_text(rng, 6)}\n"}
                ]
                if u % 2 == 1:
                    quiz_file = f"{base}/quizzes/q{u}.yaml"
                    _dump({"title": f"แบบฝึกหัด {u + 1}", "questions": _questions(rng, 3)}, out / quiz_file)
                    blocks.append({"type": "quiz", "id": f"quiz{u}", "role": "practice", "file": quiz_file})
                _dump({"id": f"u{u}", "title": f"หน่วยที่ {u + 1}", "blocks": blocks}, out / base / f"u{u}.yaml")
                unit_refs.append({"include": f"{base}/u{u}.yaml"})
                u += 1
            _dump(
                {"id": f"s{s}-{j}", "title": f"ตอนที่ {j + 1}", "units": unit_refs},
                out / base / "subsection.yaml",
            )
            subs.append({"include": f"{base}/subsection.yaml"})
        _dump(
            {"id": f"s{s}", "title": f"ส่วนที่ {s + 1}", "subsections": subs},
            out / "sections" / f"s{s}" / "section.yaml",
        )
        sections.append({"include": f"sections/s{s}/section.yaml"})
        s += 1
    _dump({**_header(units, "deep-include"), "sections": [*sections, _post_test()]}, out / "course.yaml")


# ---- a Studio course, archived, then imported

RUN = "2569_1"


def studio_course(root: Path, units: int) -> None:
    """A Studio-style OLX course of ``units`` verticals: html pointers with asset links, a problem each."""
    rng = random.Random(23)  # noqa: S311 (test data)
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
    assets = max(20, units // 5)
    asset_size = units * 2048 // assets  # 2 KB per unit in all: 10 MB at 5,000 units
    for k in range(assets):
        (root / "static" / f"img{k}.png").write_bytes(rng.randbytes(asset_size))
    (root / "course.xml").write_text(f'<course url_name="{RUN}" org="BENCH" course="STUDIO{units}"/>\n')
    chapter_refs = []
    v = 0
    c = 0
    while v < units:
        seq_refs = []
        for s in range(10):
            if v >= units:
                break
            vert_refs = []
            for _ in range(min(5, units - v)):
                vid = f"v{v}"
                imgs = [(v * 3 + j) % assets for j in range(4)]
                body = (
                    f"<h3>{_text(rng, 3)}</h3>\n<p>{_text(rng, 40)}</p>\n"
                    + "".join(f'<p><img src="/static/img{i}.png" alt="{_text(rng, 1)}"/></p>\n' for i in imgs)
                    + f'<p><a href="/static/img{imgs[0]}.png">{_text(rng, 2)}</a> {_text(rng, 20)}</p>\n'
                )
                (root / f"html/h_{vid}.xml").write_text(
                    f'<html filename="h_{vid}" display_name="เนื้อหา {v + 1}"/>\n', encoding="utf-8"
                )
                (root / f"html/h_{vid}.html").write_text(body, encoding="utf-8")
                choices = "".join(
                    f'      <choice correct="{"true" if n == 1 else "false"}">{_text(rng, 2)}</choice>\n'
                    for n in range(4)
                )
                (root / f"problem/p_{vid}.xml").write_text(
                    f'<problem display_name="แบบฝึกหัด {v + 1}" max_attempts="2">\n  <multiplechoiceresponse>\n'
                    f"    <label>{_text(rng, 8)}</label>\n"
                    f'    <choicegroup type="MultipleChoice">\n{choices}    </choicegroup>\n'
                    "  </multiplechoiceresponse>\n</problem>\n",
                    encoding="utf-8",
                )
                (root / f"vertical/{vid}.xml").write_text(
                    f'<vertical display_name="หน่วย {v + 1}">\n  <html url_name="h_{vid}"/>\n'
                    f'  <problem url_name="p_{vid}"/>\n</vertical>\n',
                    encoding="utf-8",
                )
                vert_refs.append(f'  <vertical url_name="{vid}"/>')
                v += 1
            sid = f"c{c}s{s}"
            (root / f"sequential/{sid}.xml").write_text(
                f'<sequential display_name="เรื่อง {sid}">\n' + "\n".join(vert_refs) + "\n</sequential>\n",
                encoding="utf-8",
            )
            seq_refs.append(f'  <sequential url_name="{sid}"/>')
        (root / f"chapter/ch{c}.xml").write_text(
            f'<chapter display_name="บทที่ {c + 1}">\n' + "\n".join(seq_refs) + "\n</chapter>\n",
            encoding="utf-8",
        )
        chapter_refs.append(f'  <chapter url_name="ch{c}"/>')
        c += 1
    # The post-test: a graded sequential the grading policy counts.
    (root / "problem/p_post.xml").write_text(
        '<problem display_name="แบบทดสอบหลังเรียน">\n  <numericalresponse answer="4">\n'
        "    <label>สองบวกสอง</label>\n    <formulaequationinput/>\n  </numericalresponse>\n</problem>\n",
        encoding="utf-8",
    )
    (root / "vertical/v_post.xml").write_text(
        '<vertical display_name="แบบทดสอบหลังเรียน">\n  <problem url_name="p_post"/>\n</vertical>\n',
        encoding="utf-8",
    )
    (root / "sequential/s_post.xml").write_text(
        '<sequential display_name="แบบทดสอบหลังเรียน" graded="true" format="Final">\n'
        '  <vertical url_name="v_post"/>\n</sequential>\n',
        encoding="utf-8",
    )
    (root / "chapter/ch_post.xml").write_text(
        '<chapter display_name="การวัดผล">\n  <sequential url_name="s_post"/>\n</chapter>\n', encoding="utf-8"
    )
    chapter_refs.append('  <chapter url_name="ch_post"/>')
    (root / f"course/{RUN}.xml").write_text(
        f'<course display_name="หลักสูตร Studio {units} หน่วย" start="2026-10-01T00:00:00Z"'
        ' end="2027-03-31T00:00:00Z" language="th">\n' + "\n".join(chapter_refs) + "\n</course>\n",
        encoding="utf-8",
    )
    (root / f"policies/{RUN}/policy.json").write_text(f'{{"course/{RUN}": {{"language": "th"}}}}\n')
    (root / f"policies/{RUN}/grading_policy.json").write_text(
        '{"GRADER": [{"type": "Final", "min_count": 1, "drop_count": 0, "short_label": "F", "weight": 1}],'
        ' "GRADE_CUTOFFS": {"Pass": 0.6}}\n'
    )


def deterministic_tar_gz(folder: Path, archive: Path, top: str) -> None:
    """``folder`` as ``top/...`` in a .tar.gz whose bytes depend only on the files (sorted, no times)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in [folder, *sorted(folder.rglob("*"))]:
            rel = path.relative_to(folder).as_posix()
            info = tar.gettarinfo(str(path), arcname=f"{top}/{rel}" if rel != "." else top)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_file():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    with archive.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue())


def studio_archive(units: int, cache: Path = DEFAULT_CACHE) -> Path:
    """The Studio course of ``units`` verticals as a .tar.gz (cached)."""
    folder = cache / f"v{VERSION}" / f"studio-{units}"
    archive = folder / "course.tar.gz"
    if (folder / DONE).exists():
        return archive
    if folder.exists():
        shutil.rmtree(folder)
    tree = folder / "tree"
    studio_course(tree, units)
    deterministic_tar_gz(tree, archive, "course")
    shutil.rmtree(tree)
    (folder / DONE).write_text("")
    return archive


def _imported(out: Path, units: int, cache: Path) -> None:
    from localmooc_packager.importers.olx import import_olx

    import_olx(studio_archive(units, cache), out, check=False)


_GENERATORS: dict[str, Callable[[Path, int], None]] = {
    "markdown": _markdown,
    "html-files": _html_files,
    "quiz-heavy": _quiz_heavy,
    "asset-heavy": _asset_heavy,
    "deep-include": _deep_include,
}


def course(shape: str, units: int, cache: Path = DEFAULT_CACHE) -> Path:
    """The course folder of ``shape`` at ``units`` units, generated on first use."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    holder = cache / f"v{VERSION}" / f"{shape}-{units}"
    out = holder / "course"
    if (holder / DONE).exists():
        return out
    if holder.exists():
        shutil.rmtree(holder)
    holder.mkdir(parents=True)
    if shape == "imported":
        _imported(out, units, cache)
    else:
        _GENERATORS[shape](out, units)
    (holder / DONE).write_text("")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", default="100,1000,5000")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    for units in (int(n) for n in args.units.split(",")):
        for shape in args.shapes.split(","):
            print(course(shape, units, args.cache))


if __name__ == "__main__":
    main()
