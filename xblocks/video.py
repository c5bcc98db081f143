"""A video: a bundled file with subtitles, an external URL, or a YouTube id."""

from __future__ import annotations

from html import escape
from typing import Any

from web_fragments.fragment import Fragment
from xblock.core import XBlock
from xblock.fields import Boolean, Dict, Float, Scope, String

from .base import DefinitionXmlMixin, DisplayNameMixin, static_text, ui


class VideoBlock(DefinitionXmlMixin, DisplayNameMixin, XBlock):
    """Complete when the learner has watched 90 % of it (reported by the view's script)."""

    has_custom_completion = True
    src = String(help="Video file (/static/NAME) or external URL", scope=Scope.content, default="")
    youtube_id = String(help="YouTube video id", scope=Scope.content, default="")
    subtitles = Dict(
        help="Subtitle (.vtt) file per language code, /static/NAME", scope=Scope.content, default={}
    )
    poster = String(help="Still image (/static/NAME)", scope=Scope.content, default="")
    transcript = String(help="Downloadable transcript (/static/NAME)", scope=Scope.content, default="")
    minutes = Float(help="Length in minutes", scope=Scope.settings, default=0.0)
    watched = Boolean(help="The learner watched 90 %", scope=Scope.user_state, default=False)

    def heading_text(self, context: dict[str, Any] | None = None) -> str:
        """The title this block shows as its heading (its unit shows it once when they are the same)."""
        return str(self.display_name)

    def student_view(self, context: dict[str, Any] | None = None) -> Fragment:
        t = ui(context)
        uid = escape(str(self.scope_ids.usage_id))
        title = escape(self.display_name)
        h = min(int((context or {}).get("lm_heading", 3)), 6)
        parts = [f'<div class="lm-video" data-lm-block="{uid}">']
        if self.display_name:
            parts.append(f'<h{h} class="lm-title">{title}</h{h}>')
        if self.youtube_id:
            # YouTube cannot be bundled: a plain link keeps the page free of third-party frames.
            url = f"https://www.youtube.com/watch?v={escape(self.youtube_id)}"
            parts.append(f'<p><a href="{url}" rel="noopener">{t["open_video"]}: {title}</a></p>')
        else:
            poster = f' poster="{escape(self.poster)}"' if self.poster else ""
            parts.append(f'<video controls preload="metadata" aria-label="{title}"{poster}>')
            parts.append(f'<source src="{escape(self.src)}">')
            for lang, path in sorted(self.subtitles.items()):
                default = " default" if lang == "th" else ""
                parts.append(
                    f'<track kind="subtitles" src="{escape(path)}" srclang="{escape(lang)}" '
                    f'label="{t["subtitles"]} ({escape(lang)})"{default}>'
                )
            parts.append(f'<p>{t["video_unsupported"]}: <a href="{escape(self.src)}">{title}</a></p></video>')
        if self.transcript:
            parts.append(f'<p><a href="{escape(self.transcript)}" download>{t["transcript"]}</a></p>')
        parts.append("</div>")
        frag = Fragment("".join(parts))
        frag.add_css(static_text("lm.css"))
        frag.add_javascript(static_text("video.js"))
        frag.initialize_js("LmVideoBlock")
        return frag

    @XBlock.json_handler
    def watched_handler(self, data: dict[str, Any], suffix: str = "") -> dict[str, Any]:
        """Called by the view's script once 90 % of the video has played."""
        if not self.watched:
            self.watched = True
            self.runtime.publish(self, "completion", {"completion": 1.0})
        return {"watched": True}

    @staticmethod
    def workbench_scenarios() -> list[tuple[str, str]]:
        return [
            ("Local MOOC: video", '<lm-video display_name="แนะนำ" src="https://example.invalid/intro.mp4"/>')
        ]
