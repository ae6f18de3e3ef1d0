// Live member count while a segment's rules are edited: the rule fields are sent (GET) to the
// admin's preview endpoint whenever they change. Polling the serialised form (not only "change"
// events) also catches the admin's calendar widget, which sets dates without firing events.
(function () {
  "use strict";
  const box = document.getElementById("segment-preview");
  const form = document.getElementById("segment_form");
  if (!box || !form) { return; }
  const count = document.getElementById("segment-preview-count");
  const error = document.getElementById("segment-preview-error");
  const skip = new Set(["csrfmiddlewaretoken", "name", "description"]);
  let last = null;
  let pending = null;

  function query() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (!skip.has(key) && typeof value === "string") { params.append(key, value); }
    }
    return params.toString();
  }

  function refresh() {
    const current = query();
    if (current === last) { return; }
    last = current;
    if (pending) { pending.abort(); }
    pending = new AbortController();
    box.classList.add("is-loading");
    fetch(box.dataset.url + "?" + current, { signal: pending.signal, credentials: "same-origin",
      headers: { "Accept": "application/json" } })
      .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
      .then(({ ok, body }) => {
        box.classList.remove("is-loading");
        if (ok) {
          count.textContent = body.text;
          error.textContent = "";
        } else {
          count.textContent = "—";
          error.textContent = Object.values(body.errors || {}).flat().join(" ");
        }
      })
      .catch((reason) => { if (reason.name !== "AbortError") { box.classList.remove("is-loading"); } });
  }

  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  window.setInterval(refresh, 800);
  refresh();
})();
