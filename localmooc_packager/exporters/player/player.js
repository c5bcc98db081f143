/* Local MOOC SCORM player: one SCO holding the whole course (SCORM 1.2 or 2004 4th edition).

   Navigates the units rendered in index.html, grades quizzes locally with the rules of xblocks/grading.py
   and reports to the LMS: bookmark, compact suspend_data, score, status, interactions, session time.
   Plain ES5 plus String.prototype.normalize: no build step, runs in every LMS frame. Data flow and CMI
   mapping: docs/export-scorm.md. Automation hooks: [data-lm="next"|"prev"|"submit"], [data-lm-goto],
   [data-lm-unit], [data-lm-question] > [data-lm-choice] / [data-lm-input]. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("lm-data").textContent);
  var V12 = DATA.scorm === "1.2";
  var UI = DATA.ui;
  var UNITS = DATA.units;
  var QUIZZES = DATA.quizzes;
  var QUIZ_BY_ID = {};
  QUIZZES.forEach(function (q, i) { q.index = i; QUIZ_BY_ID[q.id] = q; });
  // SCORM 1.2 caps suspend_data at 4096 characters (CMIString4096); 2004 at 64000 (SPM).
  var SUSPEND_LIMIT = V12 ? 4096 : 64000;
  var COMMIT_EVERY_MS = 20000; // unit changes commit at most this often; quiz submissions commit at once
  var EPS = 1e-9;

  // ------------------------------------------------------------------------------------------------
  // Grading: a line-by-line mirror of xblocks/grading.py (is_correct, grade, normalize_text, parse_number)

  // Python's str.isspace() set, so that \s and strip() behave as in grading.py.
  var PY_SPACE = "\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  var SPACES = new RegExp("[" + PY_SPACE + "]+", "g");
  var EDGE_SPACES = new RegExp("^[" + PY_SPACE + "]+|[" + PY_SPACE + "]+$", "g");
  // float() syntax: sign, digits with single underscores, fraction, exponent (inf/nan are not finite anyway).
  var D = "[0-9](?:_?[0-9])*";
  var FLOAT = new RegExp("^[+-]?(?:" + D + "(?:\\.(?:" + D + ")?)?|\\." + D + ")(?:[eE][+-]?" + D + ")?$");

  function casefold(s) {
    // Upper then lower approximates Python's full case folding (ß -> ss, ς -> σ, ligatures).
    return s.toUpperCase().toLowerCase();
  }

  // Short answers: the rules of grading.py's normalize_text, step by step in the same order.
  var ZERO_WIDTH = /[\u200b\u200c\u200d\u2060\ufeff]/g;
  var SARA_AM_SPLIT = /\u0e4d([\u0e48-\u0e4b]?)\u0e32/g;
  var SPACE_AFTER_THAI = /([\u0e00-\u0e7f]) /g;
  var SPACE_BEFORE_THAI = / (?=[\u0e00-\u0e7f])/g;

  function normalizeText(text, caseSensitive, exact) {
    var strict = {};
    (exact || []).forEach(function (e) { strict[e] = true; });
    if (caseSensitive) strict["case"] = true;
    var t = String(text).normalize("NFC").replace(ZERO_WIDTH, "");
    if (!strict["sara-am"]) t = t.replace(SARA_AM_SPLIT, "$1\u0e33");
    if (!strict.digits) t = t.replace(/[\u0e50-\u0e59]/g, function (c) { return String(c.charCodeAt(0) - 0x0e50); });
    t = t.replace(SPACES, " ").replace(EDGE_SPACES, "");
    if (!strict.spaces) t = t.replace(SPACE_AFTER_THAI, "$1").replace(SPACE_BEFORE_THAI, "");
    return strict["case"] ? t : casefold(t);
  }

  function digitsToAscii(s) {
    // Thai digits (grading.py) and the other decimal digits Python's float() accepts that keyboards type.
    return s.replace(/[\u0e50-\u0e59]/g, function (c) { return String(c.charCodeAt(0) - 0x0e50); })
      .replace(/[\uff10-\uff19]/g, function (c) { return String(c.charCodeAt(0) - 0xff10); })
      .replace(/[\u0660-\u0669]/g, function (c) { return String(c.charCodeAt(0) - 0x0660); })
      .replace(/[\u06f0-\u06f9]/g, function (c) { return String(c.charCodeAt(0) - 0x06f0); });
  }

  function parseNumber(value) {
    if (typeof value === "boolean") return null;
    if (typeof value === "number") return isFinite(value) ? value : null;
    if (typeof value !== "string") return null;
    var text = digitsToAscii(value).replace(/,/g, "").replace(/ /g, "").replace(EDGE_SPACES, "");
    if (!FLOAT.test(text)) return null;
    var n = Number(text.replace(/_/g, ""));
    return isFinite(n) ? n : null;
  }

  function toleranceOf(q) {
    var tol = q.tolerance || 0;
    if (typeof tol === "string" && tol.slice(-1) === "%") return Math.abs(Number(q.answer)) * Number(tol.slice(0, -1)) / 100;
    return Number(tol);
  }

  function isCorrect(q, response) {
    var answer = q.answer;
    switch (q.type) {
      case "single-choice":
        return typeof response === "string" && answer.length === 1 && answer[0] === response;
      case "multiple-choice": {
        if (!Array.isArray(response)) return false;
        for (var i = 0; i < response.length; i++) if (typeof response[i] !== "string") return false;
        var a = uniq(answer), r = uniq(response);
        return a.length === r.length && a.every(function (x) { return r.indexOf(x) >= 0; });
      }
      case "true-false":
        if (response === "true" || response === "false") response = response === "true";
        return typeof response === "boolean" && response === Boolean(answer);
      case "numeric": {
        var n = parseNumber(response);
        return n !== null && Math.abs(n - Number(answer)) <= toleranceOf(q) + EPS;
      }
      case "short-text": {
        if (typeof response !== "string") return false;
        var cs = !!q.case_sensitive, given = normalizeText(response, cs, q.exact);
        return answer.some(function (x) { return given === normalizeText(x, cs, q.exact); });
      }
    }
    return false;
  }

  function grade(quiz, responses) {
    var earned = 0, possible = 0, results = {};
    quiz.questions.forEach(function (q) {
      possible += q.points;
      var ok = Object.prototype.hasOwnProperty.call(responses, q.id) && isCorrect(q, responses[q.id]);
      results[q.id] = ok;
      if (ok) earned += q.points;
    });
    return { earned: earned, possible: possible, results: results };
  }

  function uniq(list) {
    return list.filter(function (x, i) { return list.indexOf(x) === i; });
  }

  function possibleOf(quiz) {
    return quiz.questions.reduce(function (s, q) { return s + q.points; }, 0);
  }

  // ------------------------------------------------------------------------------------------------
  // Learner state and the course rules (localmooc_packager/grading.py)

  var state = { cur: 0, visited: UNITS.map(function () { return false; }), quizzes: {} };
  // A response dropped from suspend_data to make room: the learner answered, wrongly; the text is gone.
  var DROPPED = { dropped: true };

  function quizState(id) {
    if (!state.quizzes[id]) state.quizzes[id] = { attempts: 0, best: 0, earned: 0, responses: null };
    return state.quizzes[id];
  }

  function courseResult() {
    var g = DATA.grading, total = 0, graded = Object.keys(g.weights);
    graded.forEach(function (id) {
      var quiz = QUIZ_BY_ID[id], qs = state.quizzes[id], possible = possibleOf(quiz);
      var score = qs && possible ? qs.best / possible : 0;
      total += g.weights[id] * Math.min(Math.max(score, 0), 1);
    });
    var measure = total, decided = graded.some(function (id) { return state.quizzes[id] && state.quizzes[id].attempts > 0; });
    if (g.post_test) {
      var post = state.quizzes[g.post_test], possible = possibleOf(QUIZ_BY_ID[g.post_test]);
      measure = post && possible ? Math.min(Math.max(post.best / possible, 0), 1) : 0;
      decided = !!(post && post.attempts > 0);
    }
    var visited = state.visited.filter(Boolean).length;
    return {
      grade: total, // the weighted course grade, as the reference runtime computes it
      measure: measure, // what decides pass/fail, and so the score reported to the LMS
      decided: decided,
      passed: graded.length > 0 && measure >= g.threshold - EPS,
      hasGraded: graded.length > 0,
      complete: visited === UNITS.length,
      progress: UNITS.length ? visited / UNITS.length : 1
    };
  }

  function finished(r) {
    return r.complete && (!r.hasGraded || (r.decided && r.passed));
  }

  // ------------------------------------------------------------------------------------------------
  // suspend_data: "1" fingerprint "|" unit "|" visited bitmap "|" quiz;quiz;...
  //   quiz = index "," attempts "," best points "," responses (base 36 numbers; see docs/export-scorm.md)
  // Choice answers take one character each (a base64 digit: choice index + 1, a bitmask, 1/2 for
  // true/false); typed answers are escaped text ending in "~", or "=" + key index when they match the key.

  var B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  var ROLE_RANK = { "pre-test": 0, practice: 1, graded: 2, "post-test": 3 };

  function esc(text) {
    return text.replace(/[%~;|,=!]/g, function (c) { return "%" + c.charCodeAt(0).toString(16).toUpperCase(); });
  }

  function unesc(text) {
    return text.replace(/%([0-9A-F]{2})/g, function (m, h) { return String.fromCharCode(parseInt(h, 16)); });
  }

  function maskWidth(q) { return Math.max(1, Math.ceil(q.choices.length / 6)); }

  function encodeResponse(q, value, level) {
    var present = value !== undefined && value !== null;
    if (q.type === "single-choice") return B64.charAt(present ? q.choices.indexOf(value) + 1 : 0);
    if (q.type === "true-false") return B64.charAt(!present ? 0 : (value === true || value === "true") ? 1 : 2);
    if (q.type === "multiple-choice") {
      var out = "";
      for (var w = 0; w < maskWidth(q); w++) {
        var bits = 0;
        for (var k = 0; k < 6; k++) {
          var c = q.choices[w * 6 + k];
          if (present && c !== undefined && value.indexOf(c) >= 0) bits |= 1 << k;
        }
        out += B64.charAt(bits);
      }
      return out;
    }
    if (!present || value === "") return "~";
    if (value === DROPPED) return "!~";
    if (level >= 1 && isCorrect(q, value)) {
      if (q.type === "numeric") return "=~";
      for (var i = 0; i < q.answer.length && i < 64; i++) {
        if (normalizeText(q.answer[i], !!q.case_sensitive, q.exact) === normalizeText(value, !!q.case_sensitive, q.exact)) return "=" + B64.charAt(i) + "~";
      }
    }
    if (level >= 2) return "!~";
    return esc(String(value)) + "~";
  }

  function fmt(n) {
    return String(Math.round(n * 1e6) / 1e6);
  }

  // Scores as people read them: 1, 1.5, 0.67 (at most two decimals), the rule of the runtime's pages and
  // quiz.js; fmt above keeps six decimals because it also writes the saved state.
  function shown(n) {
    return String(Math.round(Number(n) * 100) / 100);
  }

  function encodeState(limit) {
    var bitmap = "";
    for (var i = 0; i < state.visited.length; i += 6) {
      var bits = 0;
      for (var k = 0; k < 6 && i + k < state.visited.length; k++) if (state.visited[i + k]) bits |= 1 << k;
      bitmap += B64.charAt(bits);
    }
    bitmap = bitmap.replace(/A+$/, "");
    var head = "1" + DATA.fingerprint + "|" + state.cur.toString(36) + "|" + bitmap + "|";
    var attempted = QUIZZES.filter(function (q) { var s = state.quizzes[q.id]; return s && s.attempts > 0; });

    function build(level, noResponses, omitted) {
      return head + attempted.filter(function (q) { return !omitted[q.id]; }).map(function (quiz) {
        var s = state.quizzes[quiz.id];
        var resp = "";
        if (s.responses && !noResponses[quiz.id]) {
          resp = quiz.questions.map(function (q) { return encodeResponse(q, s.responses[q.id], level); }).join("");
        }
        return quiz.index.toString(36) + "," + s.attempts.toString(36) + "," + fmt(s.best) + "," + resp;
      }).join(";");
    }

    // Degrade step by step until it fits, keeping what matters most: attempts and best scores (grades),
    // the visited units (completion) and the bookmark always; then choice answers; typed text goes first.
    var text, level;
    for (level = 0; level <= 2; level++) {
      text = build(level, {}, {});
      if (text.length <= limit) return { text: text, level: level };
    }
    var order = attempted.slice().sort(function (a, b) {
      return (ROLE_RANK[a.role] - ROLE_RANK[b.role]) || (a.index - b.index);
    });
    var noResponses = {};
    for (var j = 0; j < order.length; j++) {
      noResponses[order[j].id] = true;
      text = build(2, noResponses, {});
      if (text.length <= limit) return { text: text, level: 3 };
    }
    // Only courses with hundreds of attempted quizzes get here: forget ungraded quizzes, then the oldest.
    var omitted = {};
    for (j = 0; j < order.length; j++) {
      omitted[order[j].id] = true;
      text = build(2, noResponses, omitted);
      if (text.length <= limit) return { text: text, level: 4 };
    }
    return { text: head.slice(0, limit), level: 5 };
  }

  function decodeResponses(quiz, resp) {
    var out = {}, pos = 0;
    quiz.questions.forEach(function (q) {
      if (q.type === "single-choice" || q.type === "true-false") {
        var v = B64.indexOf(resp.charAt(pos++));
        if (v < 0) throw new Error("bad choice");
        if (v > 0) out[q.id] = q.type === "true-false" ? v === 1 : q.choices[v - 1];
      } else if (q.type === "multiple-choice") {
        var picked = [];
        for (var w = 0; w < maskWidth(q); w++) {
          var bits = B64.indexOf(resp.charAt(pos++));
          if (bits < 0) throw new Error("bad mask");
          for (var k = 0; k < 6; k++) if (bits & (1 << k) && q.choices[w * 6 + k] !== undefined) picked.push(q.choices[w * 6 + k]);
        }
        if (picked.length) out[q.id] = picked;
      } else {
        var end = resp.indexOf("~", pos);
        if (end < 0) throw new Error("bad text");
        var token = resp.slice(pos, end);
        pos = end + 1;
        if (token === "!") out[q.id] = DROPPED;
        else if (token === "=") out[q.id] = fmt(Number(q.answer));
        else if (token.charAt(0) === "=") out[q.id] = q.answer[B64.indexOf(token.charAt(1))];
        else if (token !== "") out[q.id] = unesc(token);
      }
    });
    if (pos !== resp.length) throw new Error("trailing data");
    return out;
  }

  function decodeState(text) {
    var parts = String(text || "").split("|");
    if (parts.length !== 4 || parts[0] !== "1" + DATA.fingerprint) return null;
    var s = { cur: parseInt(parts[1], 36) || 0, visited: UNITS.map(function () { return false; }), quizzes: {} };
    for (var i = 0; i < parts[2].length; i++) {
      var bits = B64.indexOf(parts[2].charAt(i));
      for (var k = 0; k < 6; k++) if (bits > 0 && bits & (1 << k) && i * 6 + k < UNITS.length) s.visited[i * 6 + k] = true;
    }
    if (s.cur >= UNITS.length) s.cur = 0;
    (parts[3] ? parts[3].split(";") : []).forEach(function (entry) {
      var f = entry.split(",");
      var quiz = QUIZZES[parseInt(f[0], 36)];
      if (!quiz || f.length !== 4) return;
      var qs = { attempts: parseInt(f[1], 36) || 0, best: Number(f[2]) || 0, earned: Number(f[2]) || 0, responses: null };
      if (f[3]) {
        try {
          qs.responses = decodeResponses(quiz, f[3]);
          qs.earned = grade(quiz, qs.responses).earned;
        } catch (e) { qs.responses = null; }
      }
      s.quizzes[quiz.id] = qs;
    });
    return s;
  }

  // ------------------------------------------------------------------------------------------------
  // The LMS: API discovery and a thin wrapper that speaks the version's dialect

  function findApi(name) {
    function climb(win) {
      for (var n = 0; win && n <= 10; n++) {
        try { if (win[name]) return win[name]; } catch (e) { /* a cross-origin frame: keep climbing */ }
        var parent;
        try { parent = win.parent; } catch (e2) { return null; }
        if (!parent || parent === win) return null;
        win = parent;
      }
      return null;
    }
    var found = climb(window);
    try { if (!found && window.opener) found = climb(window.opener); } catch (e) { /* opener gone */ }
    try { if (!found && window.top && window.top.opener) found = climb(window.top.opener); } catch (e) { /* idem */ }
    return found;
  }

  var CMI = V12 ? {
    location: "cmi.core.lesson_location", suspend: "cmi.suspend_data", exit: "cmi.core.exit",
    session: "cmi.core.session_time", mode: "cmi.core.lesson_mode", learner: "cmi.core.student_id"
  } : {
    location: "cmi.location", suspend: "cmi.suspend_data", exit: "cmi.exit",
    session: "cmi.session_time", mode: "cmi.mode", learner: "cmi.learner_id"
  };

  var lms = {
    api: findApi(V12 ? "API" : "API_1484_11"),
    active: false,
    ended: false,
    written: {}, // last value written per element: unchanged values are not sent again
    errors: [],
    call: function (method12, method2004, args) {
      if (!this.api) return "false";
      try {
        return String(this.api[V12 ? method12 : method2004].apply(this.api, args));
      } catch (e) {
        this.errors.push(String(e));
        return "false";
      }
    },
    init: function () {
      if (!this.api) return false;
      var ok = this.call("LMSInitialize", "Initialize", [""]) === "true";
      // 103 (2004) / 101 (1.2) after a page reload inside the same LMS frame: the session is already open.
      if (!ok && ["101", "103"].indexOf(this.lastError()) >= 0) ok = true;
      this.active = ok;
      return ok;
    },
    lastError: function () { return this.call("LMSGetLastError", "GetLastError", []); },
    get: function (el) {
      if (!this.active) return "";
      var v = this.call("LMSGetValue", "GetValue", [el]);
      return v === "undefined" || v === "null" ? "" : v;
    },
    set: function (el, value, force) {
      value = String(value);
      if (!this.active || (!force && this.written[el] === value)) return true;
      var ok = this.call("LMSSetValue", "SetValue", [el, value]) === "true";
      if (ok) this.written[el] = value;
      else this.errors.push(el + "=" + value.slice(0, 40) + ": error " + this.lastError());
      return ok;
    },
    commit: function () {
      if (!this.active) return false;
      lastCommit = Date.now();
      return this.call("LMSCommit", "Commit", [""]) === "true";
    },
    finish: function () {
      if (!this.active || this.ended) return;
      this.ended = true;
      this.call("LMSFinish", "Terminate", [""]);
      this.active = false;
    }
  };

  // ------------------------------------------------------------------------------------------------
  // Writing to the LMS

  var started = Date.now();
  var lastCommit = 0;
  var commitTimer = null;
  var reviewMode = false;
  var lastEncoding = { text: "", level: 0 };
  var interactionIndex = {}; // 2004: interaction id -> index, so that a retake updates its own record

  function pad(n, w) { n = String(n); while (n.length < (w || 2)) n = "0" + n; return n; }

  function sessionTime() {
    var cs = Math.round((Date.now() - started) / 10), s = Math.floor(cs / 100);
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (V12) return pad(Math.min(h, 9999), 4) + ":" + pad(m) + ":" + pad(sec) + "." + pad(cs % 100);
    return "PT" + h + "H" + m + "M" + sec + "." + pad(cs % 100) + "S";
  }

  function saveState() {
    lastEncoding = encodeState(SUSPEND_LIMIT);
    lms.set(CMI.suspend, lastEncoding.text);
    var unit = UNITS[state.cur].id;
    lms.set(CMI.location, unit.length <= 255 ? unit : String(state.cur));
    lms.set(CMI.session, sessionTime(), true);
    if (!reviewMode) reportResult();
  }

  function percent(x) { return String(Math.round(x * 10000) / 100); }

  function reportResult() {
    var r = courseResult();
    var fin = finished(r);
    if (V12) {
      if (r.decided) {
        lms.set("cmi.core.score.min", "0");
        lms.set("cmi.core.score.max", "100");
        lms.set("cmi.core.score.raw", percent(r.measure));
        lms.set("cmi.core.lesson_status", r.passed ? "passed" : "failed");
      } else {
        lms.set("cmi.core.lesson_status", r.complete ? "completed" : "incomplete");
      }
      lms.set(CMI.exit, fin ? "" : "suspend");
    } else {
      lms.set("cmi.completion_status", r.complete ? "completed" : "incomplete");
      lms.set("cmi.progress_measure", String(Math.round(r.progress * 10000) / 10000));
      if (r.decided) {
        lms.set("cmi.score.scaled", String(Math.round(r.measure * 10000) / 10000));
        lms.set("cmi.score.raw", percent(r.measure));
        lms.set("cmi.score.min", "0");
        lms.set("cmi.score.max", "100");
        lms.set("cmi.success_status", r.passed ? "passed" : "failed");
      } else {
        lms.set("cmi.success_status", "unknown");
      }
      lms.set(CMI.exit, fin ? "normal" : "suspend");
    }
    return r;
  }

  function commitSoon() {
    // Unit changes: at most one commit every COMMIT_EVERY_MS; the last change is never lost.
    var wait = lastCommit + COMMIT_EVERY_MS - Date.now();
    if (wait <= 0) { lms.commit(); return; }
    if (!commitTimer) {
      commitTimer = setTimeout(function () { commitTimer = null; saveState(); lms.commit(); }, wait);
    }
  }

  function interactionId(quiz, q) {
    return (quiz.id + "." + q.id).replace(/[^A-Za-z0-9_.\-]/g, "_").slice(0, 250);
  }

  var TYPES = { "single-choice": "choice", "multiple-choice": "choice", "true-false": "true-false", numeric: "numeric", "short-text": "fill-in" };

  function numberText(n) {
    var t = String(Number(n.toPrecision(15)));
    return t.indexOf("e") >= 0 ? n.toFixed(6) : t;
  }

  function learnerResponse(q, value) {
    var sep = V12 ? "," : "[,]";
    if (q.type === "single-choice") return value;
    if (q.type === "multiple-choice") return value.join(sep);
    if (q.type === "true-false") {
      var b = value === true || value === "true";
      return V12 ? (b ? "t" : "f") : (b ? "true" : "false");
    }
    if (q.type === "numeric") {
      var n = parseNumber(value);
      if (n !== null) return numberText(n);
      return V12 ? String(value).slice(0, 255) : null; // 2004 numeric must be a number: leave it unset
    }
    var text = String(value).slice(0, 250);
    return V12 ? text : "{lang=" + DATA.lang + "}" + text;
  }

  function correctPatterns(q) {
    var sep = V12 ? "," : "[,]";
    if (q.type === "single-choice" || q.type === "multiple-choice") return [q.answer.join(sep)];
    if (q.type === "true-false") return [V12 ? (q.answer ? "t" : "f") : (q.answer ? "true" : "false")];
    if (q.type === "numeric") {
      var a = Number(q.answer), tol = toleranceOf(q);
      if (V12 || !tol) return [V12 ? numberText(a) : numberText(a) + "[:]" + numberText(a)];
      return [numberText(a - tol) + "[:]" + numberText(a + tol)];
    }
    // fill-in: one pattern per accepted answer (LMSs show them as alternatives).
    return q.answer.slice(0, 10).map(function (x) {
      return V12 ? x.slice(0, 255) : "{case_matters=" + (q.case_sensitive ? "true" : "false") + "}{lang=" + DATA.lang + "}" + x.slice(0, 250);
    });
  }

  function writeInteractions(quiz, responses, results) {
    var now = new Date();
    quiz.questions.forEach(function (q) {
      var value = responses[q.id];
      if (value === undefined || value === null || (Array.isArray(value) && !value.length)) return;
      var id = interactionId(quiz, q);
      var n;
      if (!V12 && Object.prototype.hasOwnProperty.call(interactionIndex, id)) n = interactionIndex[id];
      else {
        n = parseInt(lms.get("cmi.interactions._count"), 10) || 0;
        interactionIndex[id] = n;
      }
      var p = "cmi.interactions." + n + ".";
      lms.set(p + "id", id, true);
      lms.set(p + "type", TYPES[q.type], true);
      if (V12) {
        lms.set(p + "time", pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" + pad(now.getSeconds()), true);
        lms.set(p + "weighting", numberText(q.points), true);
      } else {
        lms.set(p + "timestamp", now.toISOString(), true);
        lms.set(p + "weighting", numberText(q.points), true);
        if (q.text) lms.set(p + "description", "{lang=" + DATA.lang + "}" + q.text, true);
      }
      correctPatterns(q).forEach(function (pattern, k) {
        lms.set(p + "correct_responses." + k + ".pattern", pattern, true);
      });
      var response = learnerResponse(q, value);
      if (response !== null) lms.set(p + (V12 ? "student_response" : "learner_response"), response, true);
      lms.set(p + "result", results[q.id] ? "correct" : (V12 ? "wrong" : "incorrect"), true);
    });
  }

  // ------------------------------------------------------------------------------------------------
  // The page: units, table of contents, quizzes

  var html = document.documentElement;
  var unitEls = Array.prototype.slice.call(document.querySelectorAll("[data-lm-unit]"));
  var tocLinks = Array.prototype.slice.call(document.querySelectorAll("[data-lm-goto]"));
  var prevBtn = document.querySelector('[data-lm="prev"]');
  var nextBtn = document.querySelector('[data-lm="next"]');
  var positionEl = document.querySelector("[data-lm-position]");
  var progressEl = document.querySelector("[data-lm-progress]");
  var statusEl = document.querySelector("[data-lm-course-status]");
  var tocEl = document.querySelector("[data-lm-toc]");

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return values[k]; });
  }

  function updateChrome() {
    unitEls.forEach(function (el, i) { el.hidden = i !== state.cur; });
    tocLinks.forEach(function (a, i) {
      if (i === state.cur) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
      a.querySelector("[data-lm-visited]").hidden = !state.visited[i];
      a.querySelector("[data-lm-visited-text]").hidden = !state.visited[i];
    });
    prevBtn.disabled = state.cur === 0;
    nextBtn.disabled = state.cur === UNITS.length - 1;
    positionEl.textContent = fill(UI.unit_of, { n: state.cur + 1, total: UNITS.length });
    var seen = state.visited.filter(Boolean).length;
    progressEl.textContent = fill(UI.progress, { n: seen, total: UNITS.length });
    var r = courseResult(), parts = [];
    if (r.decided) parts.push(r.passed ? UI.course_passed : UI.course_failed);
    if (r.complete) parts.push(UI.course_done);
    statusEl.textContent = parts.join(" · ");
    statusEl.hidden = !parts.length;
    html.setAttribute("data-lm-current-unit", UNITS[state.cur].id);
    html.setAttribute("data-lm-course-result", r.decided ? (r.passed ? "passed" : "failed") : "unknown");
  }

  function goTo(index, focus) {
    if (index < 0 || index >= UNITS.length) return;
    var wasComplete = courseResult().complete;
    state.cur = index;
    state.visited[index] = true;
    updateChrome();
    if (focus) {
      var heading = unitEls[index].querySelector("h1, h2, h3");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      }
      window.scrollTo(0, 0);
    }
    saveState();
    // Reaching completion is worth an immediate commit; plain page turns are throttled.
    if (!wasComplete && courseResult().complete) lms.commit(); else commitSoon();
  }

  var wide = window.matchMedia("(min-width: 60em)");
  if (tocEl && wide.matches) tocEl.open = true;

  prevBtn.addEventListener("click", function () { goTo(state.cur - 1, true); });
  nextBtn.addEventListener("click", function () { goTo(state.cur + 1, true); });
  tocLinks.forEach(function (a, i) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      goTo(i, true);
      if (tocEl && !wide.matches) tocEl.open = false;
    });
  });

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function answerText(q) {
    if (q.type === "single-choice" || q.type === "multiple-choice") {
      return q.answer.map(function (id) { return q.choice_text[id]; }).join(", ");
    }
    if (q.type === "true-false") {
      var form = document.querySelector('[data-lm-question="' + q.id + '"] [data-lm-choice="' + q.answer + '"]');
      var label = form && form.labels && form.labels[0];
      return label ? label.textContent : String(q.answer);
    }
    if (q.type === "numeric") return numberText(Number(q.answer)) + (q.tolerance ? " ± " + q.tolerance : "");
    return q.answer[0];
  }

  // A shuffled quiz shows each learner an order of their own. The package is built once for everyone, so
  // the order in its pages is the same for all; the choices are sorted by a hash of (learner, quiz,
  // question, choice), which gives every learner a different order that a relaunch shows again. Answers
  // are kept by choice id, so grading, interactions and suspend_data do not depend on the order.
  function hash32(text) { // FNV-1a
    var h = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
    return h;
  }

  function learnerOrder(section, quiz) {
    quiz.questions.forEach(function (q) {
      if (q.type !== "single-choice" && q.type !== "multiple-choice") return;
      var fs = section.querySelector('[data-lm-question="' + q.id + '"]');
      if (!fs) return;
      var rows = Array.prototype.filter.call(fs.children, function (el) { return el.classList.contains("lm-choice"); });
      if (rows.length < 2) return;
      var anchor = rows[rows.length - 1].nextSibling;
      rows.map(function (row) {
        var id = row.querySelector("[data-lm-choice]").value;
        return [hash32(learnerId + "|" + quiz.id + "|" + q.id + "|" + id), row];
      }).sort(function (a, b) { return a[0] - b[0]; }).forEach(function (pair) { fs.insertBefore(pair[1], anchor); });
    });
  }

  function QuizView(section) {
    var quiz = QUIZ_BY_ID[section.getAttribute("data-lm-quiz")];
    if (!quiz) return;
    if (quiz.shuffle && learnerId) learnerOrder(section, quiz);
    var form = section.querySelector(".lm-quiz-form");
    var button = form.querySelector('[data-lm="submit"]');
    var resultBox = form.querySelector("[data-lm-result]");
    var meta = form.querySelector("[data-lm-meta]");

    function field(qid) { return form.querySelector('[data-lm-question="' + qid + '"]'); }

    function collect() {
      var out = {};
      quiz.questions.forEach(function (q) {
        var fs = field(q.id);
        if (!fs) return;
        if (q.type === "multiple-choice") {
          var picked = Array.prototype.map.call(fs.querySelectorAll("[data-lm-choice]:checked"), function (i) { return i.value; });
          // Canonical order, whatever the (shuffled) display order: stable interaction responses.
          picked.sort(function (a, b) { return q.choices.indexOf(a) - q.choices.indexOf(b); });
          if (picked.length) out[q.id] = picked;
        } else if (q.type === "single-choice" || q.type === "true-false") {
          var one = fs.querySelector("[data-lm-choice]:checked");
          if (one) out[q.id] = q.type === "true-false" ? one.value === "true" : one.value;
        } else {
          var input = fs.querySelector("[data-lm-input]");
          if (input && input.value.trim() !== "") out[q.id] = input.value;
        }
      });
      return out;
    }

    function restore(responses) {
      quiz.questions.forEach(function (q) {
        var fs = field(q.id), value = responses[q.id];
        if (!fs || value === undefined || value === DROPPED) return;
        var values = Array.isArray(value) ? value : [String(value)];
        Array.prototype.forEach.call(fs.querySelectorAll("[data-lm-choice]"), function (i) { i.checked = values.indexOf(i.value) >= 0; });
        var input = fs.querySelector("[data-lm-input]");
        if (input) input.value = String(value);
      });
    }

    function show() {
      var qs = state.quizzes[quiz.id];
      if (!qs || !qs.attempts) return;
      var possible = possibleOf(quiz);
      var left = quiz.attempts ? Math.max(quiz.attempts - qs.attempts, 0) : null;
      var done = left === 0 || (possible > 0 && qs.earned >= possible);
      var reveal = quiz.show_answers === "always" || (quiz.show_answers === "after-last-attempt" && done);
      if (qs.responses) {
        quiz.questions.forEach(function (q) {
          var fs = field(q.id);
          if (!fs) return;
          var value = qs.responses[q.id];
          var ok = value !== undefined && value !== DROPPED && isCorrect(q, value);
          var box = fs.querySelector(".lm-feedback");
          fs.classList.toggle("lm-correct", ok);
          fs.classList.toggle("lm-incorrect", !ok);
          var out = '<p class="lm-verdict">' + escapeHtml(ok ? UI.correct : UI.incorrect) + "</p>";
          var notes = q.feedback || {};
          (Array.isArray(value) ? value : [value]).forEach(function (c) {
            if (typeof c === "string" && notes[c]) out += "<p>" + escapeHtml(notes[c]) + "</p>";
          });
          if (reveal) {
            if (!ok) out += '<p class="lm-answer"><strong>' + escapeHtml(UI.correct_answer) + ":</strong> " + escapeHtml(answerText(q)) + "</p>";
            if (q.explain) out += '<div class="lm-explain"><strong>' + escapeHtml(UI.explain) + "</strong> " + q.explain + "</div>";
          }
          box.innerHTML = out;
          box.hidden = false;
        });
      }
      var score = possible ? qs.best / possible : 0;
      resultBox.textContent = UI.score + " " + shown(qs.best) + "/" + shown(possible) + " (" + Math.round(score * 100) + "%) " +
        (score >= quiz.pass_threshold - EPS ? UI.passed : UI.not_passed);
      if (left === 0) {
        button.disabled = true;
        meta.textContent = UI.no_attempts;
      } else if (left !== null) {
        meta.textContent = fill(UI.attempts_left, { n: left });
      }
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var qs = quizState(quiz.id);
      if (quiz.attempts && qs.attempts >= quiz.attempts) return;
      var responses = collect();
      var g = grade(quiz, responses);
      qs.attempts += 1;
      qs.responses = responses;
      qs.earned = g.earned;
      // The best submission counts, as in the quiz block: a retake never loses a pass.
      qs.best = Math.max(qs.best, g.earned);
      show();
      updateChrome();
      if (!reviewMode) writeInteractions(quiz, responses, g.results);
      saveState();
      lms.commit();
      section.dispatchEvent(new CustomEvent("lm:graded", { bubbles: true, detail: { quiz: quiz.id, earned: g.earned, possible: g.possible } }));
    });

    var saved = state.quizzes[quiz.id];
    if (saved && saved.responses) restore(saved.responses);
    show();
  }

  // ------------------------------------------------------------------------------------------------
  // Start and end of the session

  function terminate() {
    if (lms.ended) return;
    if (commitTimer) { clearTimeout(commitTimer); commitTimer = null; }
    if (lms.active) {
      saveState();
      lms.commit();
    }
    lms.finish();
  }

  var learnerId = ""; // the LMS's learner id; none when the package runs without an LMS

  function start() {
    var restored = null;
    if (lms.init()) {
      html.setAttribute("data-lm-lms", V12 ? "scorm12" : "scorm2004");
      var mode = lms.get(CMI.mode);
      reviewMode = mode === "review" || mode === "browse";
      learnerId = lms.get(CMI.learner) || "";
      restored = decodeState(lms.get(CMI.suspend));
      if (!restored) {
        // No usable suspend_data (first launch, or another build of the course): resume from the bookmark.
        var loc = lms.get(CMI.location);
        var at = -1;
        UNITS.forEach(function (u, i) { if (u.id === loc || String(i) === loc) at = i; });
        if (at >= 0) restored = { cur: at, visited: state.visited.slice(), quizzes: {} };
      }
      if (!V12) {
        var count = parseInt(lms.get("cmi.interactions._count"), 10) || 0;
        for (var i = 0; i < count; i++) interactionIndex[lms.get("cmi.interactions." + i + ".id")] = i;
      }
    } else {
      html.setAttribute("data-lm-lms", "none");
      document.querySelector("[data-lm-standalone]").hidden = false;
    }
    if (restored) state = restored;
    Array.prototype.forEach.call(document.querySelectorAll("[data-lm-quiz]"), QuizView);
    html.classList.add("lm-js");
    goTo(state.cur, false); // first save: commits at once, so the LMS sees "incomplete" and the bookmark
    window.addEventListener("pagehide", terminate);
    window.addEventListener("unload", terminate);
    document.addEventListener("visibilitychange", function () {
      // Phones often kill a hidden tab without pagehide: save while we still can.
      if (document.visibilityState === "hidden" && lms.active) { saveState(); lms.commit(); }
    });
  }

  // For tests and LMS integrators: read-only views of what the player does.
  window.LmPlayer = {
    data: DATA,
    get state() { return state; },
    get suspendData() { return lastEncoding; },
    get errors() { return lms.errors.slice(); },
    get lmsFound() { return !!lms.api; },
    encodeState: encodeState,
    decodeState: decodeState,
    isCorrect: isCorrect,
    normalizeText: normalizeText,
    goTo: function (i) { goTo(i, true); },
    terminate: terminate
  };

  start();
})();
