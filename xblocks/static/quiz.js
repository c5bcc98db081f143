/* Quiz view: collects answers, posts them to the block's `submit` handler, shows results.
   Works in any XBlock JS runtime that offers runtime.handlerUrl (the xblock-sdk workbench, the toolkit's
   own runtime). Hooks: [data-lm="submit"], [data-lm-question] > [data-lm-choice] / [data-lm-input]. */
function LmQuizBlock(runtime, element, init) {
  "use strict";
  var root = element && element.jquery ? element[0] : element;
  var form = root.querySelector(".lm-quiz-form");
  var ui = (init && init.ui) || {};
  var button = form.querySelector('[data-lm="submit"]');
  var resultBox = form.querySelector("[data-lm-result]");
  var meta = form.querySelector("[data-lm-meta]");

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    if (m) return m.getAttribute("content");
    var c = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return c ? decodeURIComponent(c[1]) : "";
  }

  function responses() {
    var out = {};
    form.querySelectorAll("[data-lm-question]").forEach(function (fs) {
      var qid = fs.getAttribute("data-lm-question");
      var kind = fs.getAttribute("data-lm-qtype");
      if (kind === "multiple-choice") {
        out[qid] = Array.prototype.map.call(fs.querySelectorAll("[data-lm-choice]:checked"), function (i) { return i.value; });
      } else if (kind === "single-choice" || kind === "true-false") {
        var picked = fs.querySelector("[data-lm-choice]:checked");
        if (picked) out[qid] = kind === "true-false" ? picked.value === "true" : picked.value;
      } else {
        var input = fs.querySelector("[data-lm-input]");
        if (input && input.value.trim() !== "") out[qid] = input.value;
      }
    });
    return out;
  }

  function restore(saved) {
    Object.keys(saved || {}).forEach(function (qid) {
      var fs = form.querySelector('[data-lm-question="' + qid + '"]');
      if (!fs) return;
      var value = saved[qid];
      var values = Array.isArray(value) ? value : [String(value)];
      fs.querySelectorAll("[data-lm-choice]").forEach(function (i) { i.checked = values.indexOf(i.value) >= 0; });
      var input = fs.querySelector("[data-lm-input]");
      if (input) input.value = String(value);
    });
  }

  function show(state) {
    if (!state || !state.attempts_used) return;
    Object.keys(state.questions || {}).forEach(function (qid) {
      var fs = form.querySelector('[data-lm-question="' + qid + '"]');
      if (!fs) return;
      var info = state.questions[qid];
      var box = fs.querySelector(".lm-feedback");
      fs.classList.toggle("lm-correct", !!info.correct);
      fs.classList.toggle("lm-incorrect", !info.correct);
      var html = '<p class="lm-verdict">' + (info.correct ? ui.correct : ui.incorrect) + "</p>";
      (info.feedback || []).forEach(function (f) { html += "<p>" + escapeHtml(f) + "</p>"; });
      if (info.explain) html += '<div class="lm-explain"><strong>' + ui.explain + "</strong> " + info.explain + "</div>";
      box.innerHTML = html;
      box.hidden = false;
    });
    var pct = Math.round(state.score * 100);
    resultBox.textContent = ui.score + " " + num(state.best_earned) + "/" + num(state.possible) + " (" + pct + "%) " +
      (state.passed ? ui.passed : ui.not_passed);
    if (state.attempts_left === 0) {
      button.disabled = true;
      meta.textContent = ui.no_attempts;
    } else if (state.attempts_left !== null && state.attempts_left !== undefined) {
      meta.textContent = ui.attempts_left.replace("{n}", state.attempts_left);
    }
  }

  // Scores as people write them: 1, 1.5, 0.67 (two decimals at most, rounded half up), the rule of the
  // runtime's pages (runtime/i18n.py num), so the quiz and the progress page say the same.
  function num(x) {
    return String(Math.round(Number(x) * 100) / 100);
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    button.disabled = true;
    fetch(runtime.handlerUrl(root, "submit"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ responses: responses() })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      button.disabled = false;
      if (!res.ok) { resultBox.textContent = (res.body && res.body.error) || "error"; return; }
      show(res.body);
      root.dispatchEvent(new CustomEvent("lm:graded", { bubbles: true, detail: res.body }));
    }).catch(function () { button.disabled = false; resultBox.textContent = "network error"; });
  });

  if (init && init.state) { restore(init.state.responses); show(init.state); }
}
