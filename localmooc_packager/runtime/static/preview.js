// localmooc preview only: reload the page when a course changes on disk (the server's version moves).
// A file, not inline script: the Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";
  var tag = document.currentScript;
  var seen = tag ? tag.getAttribute("data-version") : null;
  var every = Number(tag && tag.getAttribute("data-poll")) || 500;
  function poll() {
    fetch("/preview/version", { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && seen !== null && String(body.version) !== seen) {
          window.location.reload();
          return;
        }
        setTimeout(poll, every);
      })
      .catch(function () { setTimeout(poll, every); }); // the server is restarting: keep asking
  }
  setTimeout(poll, every);
})();
