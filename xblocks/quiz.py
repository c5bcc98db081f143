"""A quiz: pre-test, practice, graded or post-test, graded on the server by ``submit``.

The answer key stays in the block's content fields and never reaches the page. The markup carries the
automation hooks shared with the SCORM player and the runtime: ``data-lm="submit"``,
``data-lm-choice="<choice id>"`` on each choice input and ``data-lm-input="<question id>"`` on text inputs,
each inside ``[data-lm-question="<question id>"]``.
"""

from __future__ import annotations

import hashlib
import random
from html import escape
from typing import Any

from lxml import etree
from web_fragments.fragment import Fragment
from xblock.core import XBlock
from xblock.exceptions import JsonHandlerError
from xblock.fields import Boolean, Dict, Float, Integer, List, Scope, String

from .base import DefinitionXmlMixin, DisplayNameMixin, static_text, ui
from .grading import grade
from .xmlutil import inner_html, set_body

ROLES = ("pre-test", "practice", "graded", "post-test")
GRADED_ROLES = ("graded", "post-test")


class QuizBlock(DefinitionXmlMixin, DisplayNameMixin, XBlock):
    """Questions of five types; every submission is graded, counted and published as grade and completion."""

    has_score = True
    has_custom_completion = True

    role = String(
        help="pre-test | practice | graded | post-test",
        scope=Scope.settings,
        default="practice",
        values=ROLES,
    )
    weight = Float(
        help="Share of the course grade (graded and post-test quizzes)", scope=Scope.settings, default=1.0
    )
    attempts = Integer(help="Submissions allowed (0 = unlimited)", scope=Scope.settings, default=0)
    shuffle = Boolean(help="Shuffle choices per learner", scope=Scope.settings, default=False)
    show_answers = String(
        help="always | after-last-attempt | never", scope=Scope.settings, default="after-last-attempt"
    )
    pass_threshold = Float(help="Score (0-1) that passes this quiz", scope=Scope.settings, default=0.6)
    questions = List(
        help="Questions with their answers (normalised dicts, see docs/course-format.md)",
        scope=Scope.content,
        default=[],
    )

    responses = Dict(help="The learner's last submitted answers", scope=Scope.user_state, default={})
    results = Dict(help="Correctness per question of the last submission", scope=Scope.user_state, default={})
    attempts_used = Integer(help="Submissions made", scope=Scope.user_state, default=0)
    earned = Float(help="Points of the last submission", scope=Scope.user_state, default=0.0)
    best_earned = Float(help="Best points over all submissions", scope=Scope.user_state, default=0.0)

    # ---- scoring
    def max_score(self) -> float:
        return float(sum(float(q.get("points", 1)) for q in self.questions))

    @property
    def graded(self) -> bool:
        return self.role in GRADED_ROLES

    def attempts_left(self) -> int | None:
        return None if not self.attempts else max(self.attempts - self.attempts_used, 0)

    def reveal(self, finished: bool) -> bool:
        return self.show_answers == "always" or (self.show_answers == "after-last-attempt" and finished)

    @XBlock.json_handler
    def submit(self, data: dict[str, Any], suffix: str = "") -> dict[str, Any]:
        """Grade ``{"responses": {question id: answer}}``; publish grade and completion."""
        responses = data.get("responses") if isinstance(data, dict) else None
        if not isinstance(responses, dict):
            raise JsonHandlerError(400, 'expected {"responses": {question id: answer}}')
        # Each field is read once (XBlock's field access costs more than grading): the new values are
        # kept in locals and the summary is built from them.
        attempts_used = self.attempts_used
        if self.attempts and attempts_used >= self.attempts:
            raise JsonHandlerError(409, "no attempts left")
        questions = self.questions
        known = {q["id"] for q in questions}
        responses = {k: v for k, v in responses.items() if k in known}
        earned, possible, results = grade(questions, responses)
        best_earned = max(self.best_earned, earned)
        attempts_used += 1
        self.attempts_used = attempts_used
        self.responses = responses
        self.results = results
        self.earned = earned
        self.best_earned = best_earned
        # The best submission counts: a learner who retakes a post-test never loses a pass by trying again.
        self.runtime.publish(self, "grade", {"value": best_earned, "max_value": possible})
        self.runtime.publish(self, "completion", {"completion": 1.0})
        return self._summary(questions, attempts_used, earned, best_earned, responses, results)

    def state_summary(self) -> dict[str, Any]:
        """What the learner may see about their attempts: score, results, feedback, answers when revealed."""
        return self._summary(
            self.questions, self.attempts_used, self.earned, self.best_earned, self.responses, self.results
        )

    def _summary(
        self,
        questions: list[dict[str, Any]],
        attempts_used: int,
        earned: float,
        best_earned: float,
        responses: dict[str, Any],
        results: dict[str, Any],
    ) -> dict[str, Any]:
        possible = float(sum(float(q.get("points", 1)) for q in questions))  # max_score(), fields in hand
        attempts = self.attempts
        left = None if not attempts else max(attempts - attempts_used, 0)
        finished = left == 0 or (possible > 0 and earned >= possible)
        show = self.show_answers
        # A graded quiz reveals its key only to a learner who got everything right: revealed after the
        # last attempt, a second account could spend its attempts to harvest the key for the first.
        done = (possible > 0 and earned >= possible) if self.graded else finished
        reveal = attempts_used > 0 and (show == "always" or (show == "after-last-attempt" and done))
        # Per-question right/wrong (and the choice notes, which tell it too) only as show_answers says:
        # never under "never"; on a graded quiz under "after-last-attempt", only with the key.
        marks = show == "always" or (show == "after-last-attempt" and (reveal or not self.graded))
        feedback = {}
        if attempts_used and marks:
            for q in questions:
                item: dict[str, Any] = {"correct": bool(results.get(q["id"]))}
                picked = responses.get(q["id"])
                notes = q.get("feedback") or {}
                picked_ids = picked if isinstance(picked, list) else [picked]
                item["feedback"] = [notes[c] for c in picked_ids if isinstance(c, str) and c in notes]
                if reveal:
                    item["explain"] = q.get("explain", "")
                    item["answer"] = q["answer"]
                feedback[q["id"]] = item
        score = best_earned / possible if possible else 0.0
        return {
            "attempts_used": attempts_used,
            "attempts_left": left,
            "earned": earned,
            "best_earned": best_earned,
            "possible": possible,
            "score": score,
            "passed": attempts_used > 0 and score >= self.pass_threshold,
            "responses": responses,
            "questions": feedback,
        }

    @XBlock.json_handler
    def state(self, data: dict[str, Any], suffix: str = "") -> dict[str, Any]:
        """The learner's current state, for a page that resumes."""
        return self.state_summary()

    # ---- view
    def choice_order(self, question: dict[str, Any]) -> list[dict[str, Any]]:
        choices = list(question.get("choices", []))
        if self.shuffle and choices:
            # Stable per learner and question, so a reload shows the same order.
            seed = f"{self.scope_ids.user_id}|{self.scope_ids.usage_id}|{question['id']}"
            random.Random(hashlib.sha256(seed.encode()).digest()).shuffle(choices)  # noqa: S311 (not security)
        return choices

    def heading_text(self, context: dict[str, Any] | None = None) -> str:
        """The title this block shows as its heading (its unit shows it once when they are the same)."""
        return self.display_name or ui(context).get(self.role, "")

    def student_view(self, context: dict[str, Any] | None = None) -> Fragment:
        t = ui(context)
        uid = str(self.scope_ids.usage_id)
        h = min(int((context or {}).get("lm_heading", 3)), 6)
        title = self.heading_text(context)
        out = [
            f'<section class="lm-quiz" data-lm-block="{escape(uid)}" data-lm-quiz="{escape(uid)}" '
            f'data-lm-role="{escape(self.role)}" aria-labelledby="{escape(uid)}-title">',
            f'<h{h} id="{escape(uid)}-title" class="lm-title">{escape(title)}</h{h}>',
            f'<form class="lm-quiz-form" novalidate data-lm-attempts="{self.attempts}">',
        ]
        for n, q in enumerate(self.questions, 1):
            out.append(self.render_question(q, n, uid, t))
        left = self.attempts_left()
        meta = t["attempts_unlimited"] if left is None else t["attempts_left"].format(n=left)
        out.append(
            f'<p class="lm-quiz-meta" data-lm-meta>{escape(meta)}</p>'
            f'<button type="submit" class="lm-button" data-lm="submit">{t["submit"]}</button>'
            '<div class="lm-quiz-result" role="status" aria-live="polite" data-lm-result></div>'
            "</form></section>"
        )
        frag = Fragment("".join(out))
        frag.add_css(static_text("lm.css"))
        frag.add_javascript(static_text("quiz.js"))
        frag.initialize_js("LmQuizBlock", {"state": self.state_summary(), "ui": t})
        return frag

    def render_question(self, q: dict[str, Any], n: int, uid: str, t: dict[str, str]) -> str:
        qid = q["id"]
        base = escape(f"{uid}-{qid}")
        kind = q["type"]
        out = [
            f'<fieldset class="lm-question" data-lm-question="{escape(qid)}" data-lm-qtype="{kind}">',
            f'<legend><span class="lm-qnum">{t["question"]} {n}.</span> <span class="lm-prompt">'
            f"{q['prompt']}</span></legend>",
        ]
        if kind in ("single-choice", "multiple-choice", "true-false"):
            input_type = "checkbox" if kind == "multiple-choice" else "radio"
            if kind == "true-false":
                labels = q.get("labels") or {}
                choices = [
                    {"id": "true", "text": labels.get("true", t["true"])},
                    {"id": "false", "text": labels.get("false", t["false"])},
                ]
            else:
                choices = self.choice_order(q)
            for c in choices:
                cid = escape(str(c["id"]))
                out.append(
                    f'<div class="lm-choice"><input type="{input_type}" name="{base}" id="{base}-{cid}" '
                    f'value="{cid}" data-lm-choice="{cid}"><label for="{base}-{cid}">{escape(str(c["text"]))}'
                    "</label></div>"
                )
        else:
            mode = ' inputmode="decimal"' if kind == "numeric" else ""
            out.append(
                f'<div class="lm-input"><label for="{base}-input">{t["answer_label"]}</label> '
                f'<input type="text" id="{base}-input" name="{base}" data-lm-input="{escape(qid)}"'
                f'{mode} autocomplete="off"></div>'
            )
        out.append('<div class="lm-feedback" aria-live="polite" hidden></div></fieldset>')
        return "".join(out)

    # ---- OLX
    def xml_body_fields(self) -> tuple[str, ...]:
        return ("questions",)

    def add_xml_body(self, node: etree._Element) -> None:
        for q in self.questions:
            qn = etree.SubElement(node, "question", id=q["id"], type=q["type"])
            if float(q.get("points", 1)) != 1:
                qn.set("points", _num(q["points"]))
            kind = q["type"]
            if kind == "true-false":
                qn.set("answer", "true" if q["answer"] else "false")
                for k, v in sorted((q.get("labels") or {}).items()):
                    qn.set(f"label-{k}", v)
            elif kind == "numeric":
                qn.set("answer", _num(q["answer"]))
                if q.get("tolerance"):
                    qn.set(
                        "tolerance",
                        str(q["tolerance"]) if isinstance(q["tolerance"], str) else _num(q["tolerance"]),
                    )
            elif kind == "short-text":
                if q.get("case_sensitive"):
                    qn.set("case_sensitive", "true")
                if q.get("exact"):
                    qn.set("exact", " ".join(q["exact"]))
            set_body(etree.SubElement(qn, "prompt"), q["prompt"])
            for c in q.get("choices", []):
                cn = etree.SubElement(qn, "choice", id=str(c["id"]))
                if c["id"] in q["answer"]:
                    cn.set("correct", "true")
                note = (q.get("feedback") or {}).get(c["id"])
                if note:
                    cn.set("feedback", note)
                cn.text = str(c["text"])
            if kind == "short-text":
                for a in q["answer"]:
                    etree.SubElement(qn, "answer").text = a
            if q.get("explain"):
                set_body(etree.SubElement(qn, "explain"), q["explain"])

    @classmethod
    def parse_xml(cls, node: etree._Element, runtime: Any, keys: Any) -> QuizBlock:
        block = runtime.construct_xblock_from_class(cls, keys)
        block.set_fields_from_attributes(node)
        block.questions = [question_from_xml(qn) for qn in node.iterchildren("question")]
        return block

    @staticmethod
    def workbench_scenarios() -> list[tuple[str, str]]:
        return [
            (
                "Local MOOC: quiz",
                """<lm-quiz display_name="แบบทดสอบหลังเรียน" role="post-test" attempts="3" pass_threshold="0.7">
                  <question id="q1" type="single-choice"><prompt><![CDATA[<p>ปีงบประมาณ พ.ศ. 2564 เริ่มวันใด</p>]]>
                  </prompt><choice id="a">1 มกราคม 2564</choice><choice id="b" correct="true">1 ตุลาคม 2563</choice>
                  <explain><![CDATA[<p>ปีงบประมาณเริ่ม 1 ตุลาคม ของปีก่อนหน้า</p>]]></explain></question>
                  <question id="q2" type="numeric" answer="2"><prompt>รอบการประเมินมีกี่รอบต่อปี</prompt></question>
                </lm-quiz>""",
            )
        ]


def _num(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def question_from_xml(qn: etree._Element) -> dict[str, Any]:
    """A ``<question>`` element -> the normalised question dict."""
    kind = qn.get("type", "")
    q: dict[str, Any] = {"id": qn.get("id", ""), "type": kind}
    prompt = qn.find("prompt")
    q["prompt"] = inner_html(prompt).strip() if prompt is not None else ""
    if qn.get("points"):
        q["points"] = float(qn.get("points"))
    if kind in ("single-choice", "multiple-choice"):
        choices = list(qn.iterchildren("choice"))
        q["choices"] = [{"id": c.get("id", ""), "text": c.text or ""} for c in choices]
        q["answer"] = [c.get("id", "") for c in choices if c.get("correct") == "true"]
        notes = {c.get("id", ""): c.get("feedback") for c in choices if c.get("feedback")}
        if notes:
            q["feedback"] = notes
    elif kind == "true-false":
        q["answer"] = qn.get("answer") == "true"
        labels = {k: qn.get(f"label-{k}") for k in ("true", "false") if qn.get(f"label-{k}")}
        if labels:
            q["labels"] = labels
    elif kind == "numeric":
        q["answer"] = float(qn.get("answer", "nan"))
        tol = qn.get("tolerance")
        if tol:
            q["tolerance"] = tol if tol.endswith("%") else float(tol)
    elif kind == "short-text":
        q["answer"] = [a.text or "" for a in qn.iterchildren("answer")]
        if qn.get("case_sensitive") == "true":
            q["case_sensitive"] = True
        if qn.get("exact"):
            q["exact"] = qn.get("exact", "").split()
    explain = qn.find("explain")
    if explain is not None:
        q["explain"] = inner_html(explain).strip()
    return q
