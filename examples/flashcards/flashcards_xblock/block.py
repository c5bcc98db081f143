"""The `flashcards` block: cards with a front and a back; the learner flips them and marks the ones they know.

An example of a third-party XBlock for localmooc-packager (made with `localmooc new-xblock flashcards`, then
written out): content and settings fields describe the course, user_state is the learner's, a JSON handler
stores what the learner marks, and ``static_view`` is the SCORM rendering (docs/plugins.md).
"""

from __future__ import annotations

import json
from html import escape
from importlib.resources import files
from typing import Any

from jinja2 import Environment, select_autoescape
from web_fragments.fragment import Fragment
from xblock.core import XBlock
from xblock.exceptions import JsonHandlerError
from xblock.fields import Dict, List, Scope, String

_HERE = files(__package__)
_JINJA = Environment(autoescape=select_autoescape(default=True), keep_trailing_newline=True)

UI = {
    "th": {"flip": "พลิกบัตร", "known": "จำได้แล้ว", "progress": "จำได้ {n} จาก {total} บัตร", "card": "บัตรที่ {n}"},
    "en": {
        "flip": "Flip",
        "known": "I know this",
        "progress": "{n} of {total} cards known",
        "card": "Card {n}",
    },
}


def _text(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


class FlashcardsBlock(XBlock):
    """Flashcards: a front (a word, a question) and a back (its meaning, the answer)."""

    display_name = String(display_name="Display name", default="บัตรคำ", scope=Scope.settings)
    cards = List(help="The cards: [{front: ..., back: ...}]", default=[], scope=Scope.content)
    # What each learner marked as known, by card index (as strings: JSON object keys).
    known = Dict(help="Cards the learner marked as known", default={}, scope=Scope.user_state)

    source_schema: dict[str, Any] = json.loads(_text("schema.json"))

    has_score = False
    completion_mode = "completable"

    def _ui(self, context: dict[str, Any] | None) -> dict[str, str]:
        lang = (context or {}).get("lang", "th")
        return UI.get(lang, UI["th"])

    def _cards(self) -> list[dict[str, str]]:
        return [{"front": str(c.get("front", "")), "back": str(c.get("back", ""))} for c in self.cards]

    def _state(self) -> dict[str, Any]:
        known = sorted(int(k) for k, v in self.known.items() if v)
        return {"known": known, "total": len(self.cards)}

    def student_view(self, context: dict[str, Any] | None = None) -> Fragment:
        ui = self._ui(context)
        state = self._state()
        html = _JINJA.from_string(_text("templates/flashcards.html")).render(
            block_id=str(self.scope_ids.usage_id),
            title=self.display_name,
            cards=self._cards(),
            known=set(state["known"]),
            ui=ui,
            progress=ui["progress"].format(n=len(state["known"]), total=state["total"]),
        )
        frag = Fragment(html)
        frag.add_css(_text("static/flashcards.css"))
        frag.add_javascript(_text("static/flashcards.js"))
        frag.initialize_js("FlashcardsInit", {"progress": ui["progress"]})
        return frag

    @XBlock.json_handler
    def mark(self, data: dict[str, Any], suffix: str = "") -> dict[str, Any]:
        """POST {"card": index, "known": true|false}; answers {"known": [indexes], "total": n}. Marking the
        last card publishes completion."""
        if not isinstance(data, dict):
            raise JsonHandlerError(400, 'send {"card": <index>, "known": true|false}')
        card, known = data.get("card"), data.get("known")
        if not isinstance(card, int) or isinstance(card, bool) or not 0 <= card < len(self.cards):
            raise JsonHandlerError(400, f"card must be an index from 0 to {len(self.cards) - 1}")
        if not isinstance(known, bool):
            raise JsonHandlerError(400, "known must be true or false")
        marks = dict(self.known)
        marks[str(card)] = known
        self.known = marks
        state = self._state()
        if state["total"] and len(state["known"]) == state["total"]:
            self.runtime.publish(self, "completion", {"completion": 1.0})
        return state

    @XBlock.json_handler
    def state(self, data: Any, suffix: str = "") -> dict[str, Any]:
        return self._state()

    def static_view(self, context: dict[str, Any]) -> dict[str, Any]:
        """localmooc-packager's static-rendering protocol: each card a <details> that opens on its back
        (no script, keyboard operable); nothing to grade, the unit's visit is what counts."""
        ui = self._ui(context)
        items = "".join(
            f'<details class="flashcards-card"><summary><span class="flashcards-sr">'
            f"{escape(ui['card'].format(n=i))}: </span>{escape(c['front'])}</summary>"
            f'<p class="flashcards-back">{escape(c["back"])}</p></details>'
            for i, c in enumerate(self._cards(), 1)
        )
        return {
            "html": f'<div class="flashcards-block flashcards-static">{items}</div>',
            "css": _text("static/flashcards.css"),
            "grading": None,
        }

    @staticmethod
    def workbench_scenarios() -> list[tuple[str, str]]:
        cards = json.dumps(
            [
                {"front": "อบต.", "back": "องค์การบริหารส่วนตำบล"},
                {"front": "อปท.", "back": "องค์กรปกครองส่วนท้องถิ่น"},
            ],
            ensure_ascii=False,
        )
        return [("flashcards", f"<flashcards display_name=\"คำย่อในท้องถิ่น\" cards='{escape(cards)}'/>")]
