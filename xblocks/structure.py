"""Course, section (chapter), subsection (sequential) and unit (vertical): the grouping blocks.

They mirror Open edX's hierarchy so that a Studio export maps onto them one to one; a short-form course
(units only) gets one section and one subsection per unit from the loader.
"""

from __future__ import annotations

from html import escape
from typing import Any

from web_fragments.fragment import Fragment
from xblock.completable import XBlockCompletionMode
from xblock.core import XBlock
from xblock.fields import Boolean, Dict, Float, List, Scope, String

from .base import DefinitionXmlMixin, DisplayNameMixin, static_text


class ContainerBlock(DefinitionXmlMixin, DisplayNameMixin, XBlock):
    """A block whose view is its children's views in order, under a heading."""

    has_children = True
    completion_mode = XBlockCompletionMode.AGGREGATOR
    heading_level = 2

    def student_view(self, context: dict[str, Any] | None = None) -> Fragment:
        frag = Fragment()
        kind = self.scope_ids.block_type.removeprefix("lm-")
        h = min(int((context or {}).get("lm_heading", self.heading_level)), 6)
        children = [self.runtime.get_block(child_id) for child_id in self.children]
        # A unit whose one block shows the same title (the post-test unit "แบบทดสอบหลังเรียน" holding the
        # quiz of that name): the block's heading takes this one's place, so the title is shown once.
        heading = getattr(children[0], "heading_text", None) if len(children) == 1 else None
        merged = heading is not None and " ".join(heading(context).split()) == " ".join(
            self.display_name.split()
        )
        child_context = {**(context or {}), "lm_heading": h if merged else min(h + 1, 6)}
        frag.add_content(
            f'<section class="lm-{kind}" data-lm-block="{escape(str(self.scope_ids.usage_id))}">'
            + ("" if merged else f'<h{h} class="lm-title">{escape(self.display_name)}</h{h}>')
        )
        for child in children:
            child_frag = self.runtime.render_child(child, "student_view", child_context)
            frag.add_fragment_resources(child_frag)
            frag.add_content(child_frag.body_html())
        frag.add_content("</section>")
        frag.add_css(static_text("lm.css"))
        return frag


class CourseBlock(ContainerBlock):
    """The course: catalogue data, dates, pass threshold and certificate rules. Children: sections."""

    heading_level = 1
    org = String(help="Organisation code (ASCII)", scope=Scope.settings, default="")
    course = String(help="Course number / id (ASCII)", scope=Scope.settings, default="")
    run = String(help="Run name (ASCII)", scope=Scope.settings, default="")
    description = String(help="About the course (HTML)", scope=Scope.content, default="")
    short_description = String(help="Catalogue text", scope=Scope.settings, default="")
    language = String(help="Content language", scope=Scope.settings, default="th")
    category = String(help="Local MOOC category key", scope=Scope.settings, default="")
    audience = List(help="dla-staff, local-staff, public", scope=Scope.settings, default=[])
    hours = Float(help="Study hours credited on completion", scope=Scope.settings, default=0.0)
    start = String(help="Course start (ISO date or date-time)", scope=Scope.settings, default="")
    end = String(help="Course end (ISO date or date-time)", scope=Scope.settings, default="")
    enrollment_start = String(help="Enrolment opens", scope=Scope.settings, default="")
    enrollment_end = String(help="Enrolment closes", scope=Scope.settings, default="")
    pass_threshold = Float(help="Grade needed to pass, 0-1", scope=Scope.settings, default=0.6)
    certificate = Dict(
        help="Certificate rules: requires, min_minutes, title", scope=Scope.settings, default={}
    )
    image = String(help="Course card image (/static/...)", scope=Scope.settings, default="")
    olx = Dict(
        help="Open edX files kept verbatim from an import (about pages, other files)",
        scope=Scope.settings,
        default={},
    )

    @staticmethod
    def workbench_scenarios() -> list[tuple[str, str]]:
        return [
            (
                "Local MOOC: a short course",
                """<lm-course display_name="งบประมาณท้องถิ่นเบื้องต้น" org="DLA" course="demo" run="2564_2">
                  <lm-section display_name="บทนำ"><lm-subsection display_name="บทนำ"><lm-unit display_name="บทนำ">
                    <lm-html display_name="ยินดีต้อนรับ"><![CDATA[<p>ยินดีต้อนรับสู่บทเรียน</p>]]></lm-html>
                    <lm-quiz display_name="แบบทดสอบหลังเรียน" role="post-test" attempts="3"><question id="q1"
                      type="single-choice"><prompt><p>ปีงบประมาณเริ่มเดือนใด</p></prompt><choice id="a">มกราคม</choice>
                      <choice id="b" correct="true">ตุลาคม</choice></question></lm-quiz>
                  </lm-unit></lm-subsection></lm-section></lm-course>""",
            )
        ]


class SectionBlock(ContainerBlock):
    """A section (Open edX chapter). Children: subsections."""

    start = String(help="Release date (ISO)", scope=Scope.settings, default="")


class SubsectionBlock(ContainerBlock):
    """A subsection (Open edX sequential), where grading happens. Children: units."""

    heading_level = 3
    graded = Boolean(help="Counts toward the course grade", scope=Scope.settings, default=False)
    format = String(help="Assignment type (grader name), e.g. Post-test", scope=Scope.settings, default="")
    start = String(help="Release date (ISO)", scope=Scope.settings, default="")
    due = String(help="Due date (ISO)", scope=Scope.settings, default="")


class UnitBlock(ContainerBlock):
    """A unit (Open edX vertical): one page of content blocks."""

    heading_level = 4
