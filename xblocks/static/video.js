/* Video view: tells the block once 90 % of the video has played (its completion rule). */
function LmVideoBlock(runtime, element) {
  "use strict";
  var root = element && element.jquery ? element[0] : element;
  var video = root.querySelector("video");
  if (!video) return;
  var sent = false;
  video.addEventListener("timeupdate", function () {
    if (sent || !video.duration || video.currentTime / video.duration < 0.9) return;
    sent = true;
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    var meta = document.querySelector('meta[name="csrf-token"]');
    fetch(runtime.handlerUrl(root, "watched_handler"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json",
                 "X-CSRFToken": meta ? meta.getAttribute("content") : (m ? decodeURIComponent(m[1]) : "") },
      body: "{}"
    });
  });
}
