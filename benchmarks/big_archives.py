"""Archives of 20,000 members, for `benchmarks/run.py --only archives` and tests/test_validate_input.py.

A SCORM 1.2 zip (manifest, 2,000 pages, 17,999 images, all listed) and an OLX .tar.gz (a valid course
plus static files): the size at which a member lookup per member, or a re-read of the central directory,
would show.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path


def scorm_zip(path: Path, members: int = 20000) -> None:
    """A SCORM 1.2 zip of `members` members: the manifest, one page per ten members, the rest images, all
    listed in the manifest."""
    pages = [f"p/page{i:05d}.html" for i in range(members // 10)]
    images = [f"img/a{i:05d}.png" for i in range(members - 1 - len(pages))]
    files = "".join(f'<file href="{f}"/>' for f in pages + images)
    manifest = (
        '<?xml version="1.0"?><manifest identifier="big" version="1" '
        'xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">'
        "<metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>"
        '<organizations default="o"><organization identifier="o"><title>t</title>'
        '<item identifier="i" identifierref="r"><title>t</title></item></organization></organizations>'
        '<resources><resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="p/page00000.html">'
        f"{files}</resource></resources></manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("imsmanifest.xml", manifest)
        for i, page in enumerate(pages):
            zf.writestr(
                page,
                f'<!DOCTYPE html><html><head><title>{i}</title><link rel="stylesheet" href="../s.css"></head>'
                f'<body><h1>บทที่ {i}</h1><img src="../{images[i]}"><p>{"ข้อความ " * 40}</p>'
                f'<script>var x = "http://example.com/" + {i};</script></body></html>',
            )
        for image in images:
            zf.writestr(image, b"\x89PNG\r\n\x1a\n" + bytes(200))


def olx_targz(path: Path, valid_olx: Path, members: int = 20000) -> None:
    """An OLX .tar.gz of `members` members: the course folder `valid_olx` plus static files."""
    with tarfile.open(path, "w:gz") as tf:
        count = 0
        for f in sorted(valid_olx.rglob("*")):
            if f.is_file():
                tf.add(f, f"course/{f.relative_to(valid_olx).as_posix()}")
                count += 1
        data = b"\x89PNG\r\n\x1a\n" + bytes(200)
        for i in range(members - count):
            info = tarfile.TarInfo(f"course/static/img{i:05d}.png")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
