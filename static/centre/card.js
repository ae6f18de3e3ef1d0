/* The card shown at the till: keep the screen awake while it is shown, where the browser allows
   (Screen Wake Lock API). Web pages cannot set the brightness; the page asks the member instead. */
(function () {
  "use strict";
  if (!("wakeLock" in navigator) || !document.querySelector("[data-wake-lock]")) return;
  var lock = null;
  function acquire() {
    navigator.wakeLock.request("screen").then(function (l) {
      lock = l;
      var note = document.querySelector("[data-wake-note]");
      if (note) note.hidden = false;
    }).catch(function () {});
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && (!lock || lock.released)) acquire();
  });
  acquire();
})();
