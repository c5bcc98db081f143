"""Draw the images and short videos of the sample courses (a development tool; the outputs are committed).

    python tools/make_sample_media.py [COURSE_FOLDER_NAME ...]

Each picture is a small HTML page rendered by Debian's Chromium (it shapes Thai tone marks and vowels
correctly, with the TLWG fonts of fonts-thai-tlwg-ttf); each video is a few of those pictures as slides,
joined by ffmpeg into a silent H.264 MP4 (320x180, 10 fps), with a WebVTT file of Thai subtitles, one cue
per slide. Needs /usr/bin/chromium and ffmpeg (`apt-get install chromium ffmpeg fonts-thai-tlwg-ttf`);
CI and the tests need neither, because the files are committed. The pictures and texts are the project's
own work, under the project's licence.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_courses"
CHROMIUM = "/usr/bin/chromium"
SLIDE_SECONDS = 3
BLUE, GOLD, GREEN, RED, GREY = "#0b5394", "#f1a800", "#2e7d32", "#c62828", "#455a64"

PAGE = """<!doctype html><html lang="th"><meta charset="utf-8"><style>
html, body {{ margin: 0; width: {w}px; height: {h}px; overflow: hidden; background: {bg};
  font-family: Laksaman, Garuda, sans-serif; color: #1a1a1a; }}
.wrap {{ box-sizing: border-box; width: 100%; height: 100%; padding: {pad}px; display: flex;
  flex-direction: column; justify-content: center; align-items: center; gap: {gap}px; }}
h1 {{ margin: 0; font-size: {h1}px; font-weight: bold; text-align: center; line-height: 1.35; }}
p {{ margin: 0; font-size: {p}px; text-align: center; line-height: 1.35; }}
.row {{ display: flex; gap: {gap}px; justify-content: center; width: 100%; }}
.box {{ flex: 1; border-radius: 10px; color: #fff; padding: 8px 6px; text-align: center;
  font-size: {p}px; line-height: 1.45; display: flex; flex-direction: column; justify-content: center; }}
.box small {{ font-size: {small}px; opacity: .95; margin-top: 4px; }}
.arrow {{ font-size: {p}px; color: {grey}; line-height: 1; }}
</style><body><div class="wrap">{body}</div></body></html>"""


def box(text: str, color: str, note: str = "", dark: bool = False, grow: int = 1) -> str:
    small = (
        "<small>" + "<br>".join(html.escape(part) for part in note.split("|")) + "</small>" if note else ""
    )
    style = f"flex:{grow};background:{color}" + (";color:#1a1a1a" if dark else "")
    return f'<div class="box" style="{style}"><b>{html.escape(text)}</b>{small}</div>'


def row(*boxes: str) -> str:
    return f'<div class="row">{"".join(boxes)}</div>'


def title(text: str) -> str:
    return f"<h1>{html.escape(text)}</h1>"


def para(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


ARROW = '<div class="arrow">▼</div>'


@dataclass
class Picture:
    name: str
    width: int
    height: int
    body: str
    background: str = "#ffffff"
    scale: float = 1.0  # font scale: pictures of 800 px use 1.0


@dataclass
class Slide:
    body: str  # what the slide shows
    caption: str  # the Thai subtitle shown while it is on screen


@dataclass
class Course:
    pictures: list[Picture] = field(default_factory=list)
    video: str = ""  # file name in static/; its subtitles go to <stem>.th.vtt
    slides: list[Slide] = field(default_factory=list)


def card(course_title: str, category: str, color: str) -> Picture:
    """A 640x360 course card: the title on the category's colour; "|" breaks the line where Thai reads well."""
    head = "<br>".join(html.escape(part) for part in course_title.split("|"))
    body = f'<h1 style="color:#fff">{head}</h1><p style="color:#fff">{html.escape(category)}</p>'
    return Picture("course-card.png", 640, 360, body, background=color, scale=1.3)


def slide(head: str, line: str, caption: str, color: str = BLUE) -> Slide:
    body = f'<h1 style="color:{color}">{html.escape(head)}</h1>{para(line)}'
    return Slide(body, caption)


COURSES: dict[str, Course] = {
    "local-personnel-basics": Course(
        pictures=[
            card("การบริหารงานบุคคล|ส่วนท้องถิ่นเบื้องต้น", "งานบุคคลท้องถิ่น", "#6a1b9a"),
            Picture(
                "committees.png",
                800,
                380,
                title("องค์กรบริหารงานบุคคลส่วนท้องถิ่น 3 ระดับ")
                + row(box("ก.ถ.", BLUE, "คณะกรรมการมาตรฐานการบริหารงานบุคคลส่วนท้องถิ่น"))
                + ARROW
                + row(box("ก.จ.", GREEN, "อบจ."), box("ก.ท.", GREEN, "เทศบาล"), box("ก.อบต.", GREEN, "อบต."))
                + ARROW
                + row(
                    box("ก.จ.จ.", GOLD, "ระดับจังหวัด", dark=True),
                    box("ก.ท.จ.", GOLD, "ระดับจังหวัด", dark=True),
                    box("ก.อบต.จังหวัด", GOLD, "ระดับจังหวัด", dark=True),
                ),
            ),
        ],
        video="intro.mp4",
        slides=[
            slide(
                "งานบุคคลท้องถิ่น",
                "พ.ร.บ.ระเบียบบริหารงานบุคคลส่วนท้องถิ่น พ.ศ. 2542",
                "หลักสูตรนี้แนะนำการบริหารงานบุคคลขององค์กรปกครองส่วนท้องถิ่น",
            ),
            slide(
                "คณะกรรมการ 3 ระดับ",
                "ก.ถ. · ก.จ. ก.ท. ก.อบต. · ระดับจังหวัด",
                "กฎหมายกำหนดให้มีคณะกรรมการบริหารงานบุคคลสามระดับ",
            ),
            slide(
                "ประเมินผลปีละ 2 รอบ",
                "รอบที่ 1: ต.ค. – มี.ค. · รอบที่ 2: เม.ย. – ก.ย.",
                "ผลการปฏิบัติงานประเมินปีละสองรอบ ใช้ประกอบการเลื่อนเงินเดือน",
            ),
        ],
    ),
    "community-waste-management": Course(
        pictures=[
            card("การจัดการขยะมูลฝอยชุมชน|สำหรับท้องถิ่น", "การบริการสาธารณะท้องถิ่น", GREEN),
            Picture(
                "waste-bins.png",
                800,
                220,
                title("ถังขยะ 4 สี แยกตามประเภทขยะ")
                + row(
                    box("สีเขียว", GREEN, "ขยะอินทรีย์|เศษอาหาร เปลือกผลไม้"),
                    box("สีเหลือง", GOLD, "ขยะรีไซเคิล|ขวด กระป๋อง กระดาษ", dark=True),
                    box("สีน้ำเงิน", BLUE, "ขยะทั่วไป|ถุงขนม ซองบะหมี่"),
                    box("สีแดง", RED, "ขยะอันตราย|ถ่านไฟฉาย หลอดไฟ"),
                ),
            ),
        ],
        video="sorting.mp4",
        slides=[
            slide("ลดขยะที่ต้นทาง", "ใช้น้อย · ใช้ซ้ำ · นำกลับมาใช้ใหม่", "การจัดการขยะที่ดีเริ่มจากการลดขยะที่ต้นทาง", GREEN),
            slide("คัดแยกก่อนทิ้ง", "อินทรีย์ · รีไซเคิล · ทั่วไป · อันตราย", "ครัวเรือนคัดแยกขยะเป็นสี่ประเภทก่อนทิ้ง", GREEN),
            slide(
                "กำจัดอย่างถูกวิธี",
                "หมักปุ๋ย · รีไซเคิล · ฝังกลบถูกหลักสุขาภิบาล",
                "ขยะที่เหลือจึงนำไปกำจัดอย่างถูกหลักวิชาการ",
                GREEN,
            ),
        ],
    ),
    "thai-local-government": Course(
        pictures=[
            card("รู้จักองค์กรปกครอง|ส่วนท้องถิ่นไทย", "ความรู้ทั่วไปที่เกี่ยวข้องกับท้องถิ่น", "#00695c"),
            Picture(
                "lao-forms.png",
                800,
                300,
                title("องค์กรปกครองส่วนท้องถิ่น 5 รูปแบบ")
                + row(
                    box("รูปแบบทั่วไป", BLUE, "ใช้ได้ทั่วประเทศ", grow=3),
                    box("รูปแบบพิเศษ", RED, "ตั้งขึ้นเฉพาะพื้นที่", grow=2),
                )
                + row(
                    box("อบจ.", BLUE, "องค์การบริหาร|ส่วนจังหวัด"),
                    box("เทศบาล", BLUE, "ตำบล · เมือง · นคร"),
                    box("อบต.", BLUE, "องค์การบริหาร|ส่วนตำบล"),
                    box("กทม.", RED, "กรุงเทพมหานคร"),
                    box("เมืองพัทยา", RED, "จังหวัดชลบุรี"),
                ),
            ),
        ],
        video="overview.mp4",
        slides=[
            slide(
                "ราชการบริหาร 3 ส่วน", "ส่วนกลาง · ส่วนภูมิภาค · ส่วนท้องถิ่น", "การบริหารราชการแผ่นดินของไทยแบ่งเป็นสามส่วน"
            ),
            slide("อปท. 5 รูปแบบ", "อบจ. · เทศบาล · อบต. · กทม. · เมืองพัทยา", "ราชการส่วนท้องถิ่นมีห้ารูปแบบ"),
            slide(
                "สภา + ผู้บริหาร",
                "ทั้งสองฝ่ายมาจากการเลือกตั้งของประชาชน",
                "ทุกรูปแบบมีสภาท้องถิ่นและผู้บริหารท้องถิ่นที่ประชาชนเลือกตั้ง",
            ),
        ],
    ),
    "good-governance-pdca": Course(
        pictures=[
            card("ธรรมาภิบาลและวงจร PDCA|ในงานท้องถิ่น", "เทคนิคการบริหารราชการ", "#ad4e00"),
            Picture(
                "pdca-cycle.png",
                800,
                300,
                title("วงจร PDCA: ทำซ้ำทุกรอบเพื่อให้งานดีขึ้น")
                + row(
                    box("P · Plan", BLUE, "วางแผน|ตั้งเป้าหมายและตัวชี้วัด"),
                    '<div class="arrow">▶</div>',
                    box("D · Do", GREEN, "ปฏิบัติ|ทำตามแผน เก็บข้อมูล"),
                    '<div class="arrow">▶</div>',
                    box("C · Check", GOLD, "ตรวจสอบ|เทียบผลกับเป้าหมาย", dark=True),
                    '<div class="arrow">▶</div>',
                    box("A · Act", RED, "ปรับปรุง|แก้ไขแล้ววางแผนรอบใหม่"),
                )
                + para("↺ เมื่อจบ A ให้เริ่ม P ของรอบถัดไป"),
            ),
        ],
        video="pdca.mp4",
        slides=[
            slide("Plan · วางแผน", "ตั้งเป้าหมายที่วัดได้", "เริ่มจากวางแผน ตั้งเป้าหมายและตัวชี้วัดที่วัดได้จริง"),
            slide("Do · ปฏิบัติ", "ทำตามแผนและเก็บข้อมูล", "ลงมือทำตามแผน พร้อมเก็บข้อมูลผลการทำงาน", GREEN),
            slide("Check · ตรวจสอบ", "เทียบผลกับเป้าหมาย", "ตรวจสอบผลเทียบกับเป้าหมายที่ตั้งไว้", "#8a6100"),
            slide("Act · ปรับปรุง", "แก้ไขแล้วเริ่มรอบใหม่", "ปรับปรุงสิ่งที่ยังไม่ดี แล้วเริ่มวงจรรอบใหม่", RED),
        ],
    ),
    "about-dla": Course(
        pictures=[
            card("รู้จักกรมส่งเสริม|การปกครองท้องถิ่น", "สาระน่ารู้ที่เกี่ยวข้องกับกรมส่งเสริมการปกครองท้องถิ่น", "#37474f"),
            Picture(
                "dla-network.png",
                800,
                440,
                title("สถ. ทำงานส่งเสริม อปท. ผ่านสามระดับ")
                + row(box("ส่วนกลาง", BLUE, "กรมส่งเสริมการปกครองท้องถิ่น (สถ.)|กระทรวงมหาดไทย"))
                + ARROW
                + row(box("ระดับจังหวัด", GREEN, "สำนักงานส่งเสริมการปกครองท้องถิ่นจังหวัด (สถจ.)"))
                + ARROW
                + row(box("ระดับอำเภอ", GOLD, "สำนักงานส่งเสริมการปกครองท้องถิ่นอำเภอ (สถอ.)", dark=True))
                + para("ให้คำปรึกษา สนับสนุน และพัฒนา อบจ. เทศบาล และ อบต. ในพื้นที่"),
            ),
        ],
        video="about.mp4",
        slides=[
            slide(
                "กรมส่งเสริมการปกครองท้องถิ่น",
                "ตั้งขึ้นเมื่อ พ.ศ. 2545 สังกัดกระทรวงมหาดไทย",
                "กรมส่งเสริมการปกครองท้องถิ่นตั้งขึ้นเมื่อ พ.ศ. 2545",
            ),
            slide("ส่งเสริม ไม่ใช่สั่งการ", "สนับสนุนให้ อปท. บริหารจัดการได้เอง", "บทบาทของกรมคือส่งเสริมและสนับสนุนท้องถิ่น"),
            slide("Local MOOC", "เรียนออนไลน์ได้ทุกที่ ทุกเวลา", "บุคลากรและประชาชนเรียนรู้ได้เองผ่านระบบ Local MOOC"),
        ],
    ),
    "pdpa-for-local-government": Course(
        pictures=[card("การคุ้มครองข้อมูลส่วนบุคคล|สำหรับองค์กรปกครองส่วนท้องถิ่น", "กฎหมายท้องถิ่น", BLUE)],
        video="pdpa-intro.mp4",
        slides=[
            slide(
                "PDPA กับงานท้องถิ่น",
                "พ.ร.บ.คุ้มครองข้อมูลส่วนบุคคล พ.ศ. 2562",
                "หลักสูตรนี้อธิบายกฎหมายคุ้มครองข้อมูลส่วนบุคคลสำหรับท้องถิ่น",
            ),
            slide("เก็บเท่าที่จำเป็น", "มีฐานทางกฎหมาย · แจ้งวัตถุประสงค์", "เก็บข้อมูลเท่าที่จำเป็น และแจ้งให้เจ้าของข้อมูลทราบ"),
            slide(
                "เคารพสิทธิเจ้าของข้อมูล",
                "เข้าถึง · ขอสำเนา · ขอให้ลบ · คัดค้าน",
                "เจ้าของข้อมูลมีสิทธิหลายประการที่หน่วยงานต้องเคารพ",
            ),
        ],
    ),
}


def render(pic: Picture, out: Path, work: Path) -> None:
    s = pic.scale
    page = PAGE.format(
        w=pic.width,
        h=pic.height,
        bg=pic.background,
        pad=round(14 * s),
        gap=round(10 * s),
        h1=round(30 * s),
        p=round(21 * s),
        small=round(15 * s),
        grey=GREY,
        body=pic.body,
    )
    src = work / (out.stem + ".html")
    src.write_text(page, encoding="utf-8")
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--window-size={pic.width},{pic.height}",
            f"--screenshot={out}",
            src.as_uri(),
        ],
        check=True,
        capture_output=True,
    )


def vtt_time(seconds: int) -> str:
    return f"00:00:{seconds:02d}.000"


def make_video(course: Course, static: Path, work: Path) -> None:
    inputs: list[str] = []
    cues = ["WEBVTT", ""]
    for n, sl in enumerate(course.slides):
        png = work / f"slide{n}.png"
        render(Picture(png.name, 320, 180, sl.body, scale=0.62), png, work)
        inputs += ["-loop", "1", "-t", str(SLIDE_SECONDS), "-i", str(png)]
        start = n * SLIDE_SECONDS
        cues += [f"{vtt_time(start)} --> {vtt_time(start + SLIDE_SECONDS)}", sl.caption, ""]
    chain = "".join(f"[{n}:v]" for n in range(len(course.slides)))
    target = static / course.video
    subprocess.run(
        [
            "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            *inputs,
            "-filter_complex",
            f"{chain}concat=n={len(course.slides)}:v=1:a=0,fps=10,format=yuv420p",
            "-c:v",
            "libx264",
            "-profile:v",
            "main",
            "-preset",
            "veryslow",
            "-crf",
            "30",
            "-g",
            "30",
            "-map_metadata",
            "-1",
            "-fflags",
            "+bitexact",
            "-flags:v",
            "+bitexact",
            "-movflags",
            "+faststart",
            "-an",
            str(target),
        ],
        check=True,
    )
    target.with_name(Path(course.video).stem + ".th.vtt").write_text("\n".join(cues), encoding="utf-8")


def main(names: list[str]) -> None:
    for tool in (CHROMIUM, "ffmpeg"):
        if not shutil.which(tool):
            sys.exit(
                f"make_sample_media: {tool} not found (apt-get install chromium ffmpeg fonts-thai-tlwg-ttf)"
            )
    for name in names or list(COURSES):
        if name not in COURSES:
            sys.exit(f"make_sample_media: no media described for {name!r}; known: {', '.join(COURSES)}")
        course = COURSES[name]
        static = SAMPLES / name / "static"
        static.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for pic in course.pictures:
                render(pic, static / pic.name, work)
            if course.slides:
                make_video(course, static, work)
        print(f"{name}: {', '.join(sorted(p.name for p in static.iterdir()))}")


if __name__ == "__main__":
    main(sys.argv[1:])
