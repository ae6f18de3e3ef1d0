// "Add a line" on the Record purchase page: clones the formset's empty form (no network, no library).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const button = document.getElementById("add-purchase-line");
  const template = document.getElementById("purchase-line-template");
  const total = document.getElementById("id_lines-TOTAL_FORMS");
  const body = document.querySelector("#purchase-lines tbody");
  if (!button || !template || !total || !body) {
    return;
  }
  button.addEventListener("click", function () {
    const index = parseInt(total.value, 10);
    const row = template.content.firstElementChild.cloneNode(true);
    row.querySelectorAll("input, select, textarea").forEach(function (input) {
      ["name", "id"].forEach(function (attribute) {
        const value = input.getAttribute(attribute);
        if (value) {
          input.setAttribute(attribute, value.replace("__prefix__", String(index)));
        }
      });
    });
    body.appendChild(row);
    total.value = String(index + 1);
  });
});
