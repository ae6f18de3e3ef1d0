// Returns at the counter: as quantities change, ask the server what they give back
// (rewards.services.refunds.quote_return); the page computes nothing itself.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("returns-form");
  if (!form) {
    return;
  }
  const strings = JSON.parse(document.getElementById("returns-strings").textContent);
  const confirm = document.getElementById("returns-confirm");
  const message = document.getElementById("returns-message");
  let timer = null;
  let seq = 0;

  function figure(name, text) {
    form.querySelector('[data-figure="' + name + '"]').textContent = text;
  }

  function any() {
    return Array.from(form.querySelectorAll(".returns-qty")).some(function (input) {
      return parseInt(input.value, 10) > 0;
    });
  }

  function refresh() {
    const mine = ++seq;
    confirm.disabled = true;
    if (!any()) {
      figure("money_back", "¥0.00");
      figure("stored_value_back", "¥0.00");
      figure("points_back", "0");
      figure("points_reversed", "0");
      figure("tier_after", "—");
      message.textContent = "";
      return;
    }
    fetch(form.dataset.quoteUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(
        function (reply) {
          if (mine !== seq) {
            return;
          }
          if (!reply.ok) {
            message.textContent = reply.body.error || strings.quote_failed;
            message.classList.add("till-bad");
            return;
          }
          message.textContent = "";
          message.classList.remove("till-bad");
          figure("money_back", "¥" + reply.body.money_back);
          figure("stored_value_back", "¥" + reply.body.stored_value_back);
          figure("points_back", String(reply.body.points_back));
          figure("points_reversed", String(reply.body.points_reversed));
          const body = reply.body;
          let tier = body.tier_after ? body.tier_after.name : "—";
          if (body.tier_changes && body.tier) {
            tier = body.tier.name + " → " + body.tier_after.name;
          }
          figure("tier_after", tier);
          form.querySelector('[data-figure="tier_after"]').classList.toggle("till-bad", !!body.tier_changes);
          confirm.disabled = false;
        },
        function () {
          message.textContent = strings.quote_failed;
        }
      );
  }

  form.querySelectorAll(".returns-qty").forEach(function (input) {
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 250);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        window.clearTimeout(timer);
        refresh();
      }
    });
  });
  form.addEventListener("submit", function (event) {
    if (confirm.dataset.sent === "1") {
      event.preventDefault();
      return;
    }
    confirm.dataset.sent = "1";
  });
  const first = form.querySelector(".returns-qty:not([disabled])");
  if (first) {
    first.focus();
    first.select();
  }
});
