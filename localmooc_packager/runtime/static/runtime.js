/* The page's XBlock JS runtime: finds each rendered block (div.xblock[data-init]), reads its JSON init
   args from the data script inside it, and calls its init function with a runtime offering handlerUrl.
   Loaded from /assets (the CSP allows no inline script). */
(function () {
  "use strict";
  var main = document.getElementById("main");
  var course = main ? main.getAttribute("data-course") : null;
  if (!course) return;

  var runtime = {
    handlerUrl: function (element, handlerName, suffix, query) {
      var block = element.closest ? element.closest("[data-usage-id]") : null;
      var usage = block ? block.getAttribute("data-usage-id") : "";
      var url = "/api/courses/" + encodeURIComponent(course) + "/blocks/" + encodeURIComponent(usage) +
        "/handler/" + encodeURIComponent(handlerName);
      if (suffix) url += "/" + suffix;
      if (query) url += "?" + query;
      return url;
    },
    localResourceUrl: function (element, uri) {
      var block = element.closest("[data-block-type]");
      return "/assets/xblock/" + block.getAttribute("data-block-type") + "/" + uri;
    },
    notify: function () {}
  };

  document.querySelectorAll(".xblock[data-init]").forEach(function (el) {
    var fn = window[el.getAttribute("data-init")];
    if (typeof fn !== "function") return;
    var args = null;
    var script = el.querySelector(":scope > script.xblock-args");
    if (script) {
      try { args = JSON.parse(script.textContent); } catch (e) { args = null; }
    }
    try { fn(runtime, el, args); } catch (e) { if (window.console) console.error(e); }
  });

  // The end of the last unit states the learner's standing (finished, or what is left). A quiz graded on
  // this page changes it: fetch the page again and take the server's fresh copy (one wording, one place).
  main.addEventListener("lm:graded", function () {
    var end = document.querySelector("[data-lm-end]");
    if (!end || !end.querySelector("[data-lm-standing]")) return;
    fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-lm-end]");
        if (fresh) end.replaceWith(document.importNode(fresh, true));
      })
      .catch(function () { /* the stale standing stays; the progress page has the truth */ });
  });
})();
