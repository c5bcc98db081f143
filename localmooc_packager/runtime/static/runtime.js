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
})();
