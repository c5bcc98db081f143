/* Flashcards in the browser: a button flips a card; the checkbox posts to the `mark` JSON handler. */
function FlashcardsInit(runtime, element, args) {
  var root = element.querySelector ? element : element[0];
  var url = runtime.handlerUrl(root, "mark");
  // The runtime's CSRF token: a <meta name="csrf-token"> (localmooc's runtime) or Django's csrftoken cookie
  // (Open edX, the xblock-sdk workbench).
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) return meta.getAttribute("content");
    var c = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return c ? decodeURIComponent(c[1]) : "";
  }
  var progress = root.querySelector(".flashcards-progress");
  Array.prototype.forEach.call(root.querySelectorAll(".flashcards-flip"), function (button) {
    button.addEventListener("click", function () {
      var back = document.getElementById(button.getAttribute("aria-controls"));
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      back.hidden = !open;
    });
  });
  Array.prototype.forEach.call(root.querySelectorAll("[data-card-known]"), function (box) {
    box.addEventListener("change", function () {
      fetch(url, {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
        credentials: "same-origin",
        body: JSON.stringify({card: parseInt(box.getAttribute("data-card-known"), 10), known: box.checked})
      }).then(function (r) { return r.json(); }).then(function (state) {
        progress.textContent = args.progress.replace("{n}", state.known.length).replace("{total}", state.total);
      });
    });
  });
}
