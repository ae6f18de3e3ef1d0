// Designed surveys: show a question only while an earlier answer meets its condition
// (feedback/survey_rules.py decides again on the server; hidden answers are never stored).
(function () {
  "use strict";
  function values(form, key) {
    return Array.prototype.filter
      .call(form.querySelectorAll('[name="' + key + '"]'), function (el) {
        return (el.type !== "radio" && el.type !== "checkbox") || el.checked;
      })
      .map(function (el) { return el.value.trim(); })
      .filter(function (v) { return v !== ""; });
  }
  function met(form, block) {
    var source = form.querySelector('.sv-question[data-key="' + block.dataset.showKey + '"]');
    if (source && source.hidden) return false;
    var answers = values(form, block.dataset.showKey);
    var op = block.dataset.showOp, expected = (block.dataset.showValue || "").trim();
    if (!answers.length) return false;
    if (op === "lte" || op === "gte") {
      var limit = parseInt(expected, 10);
      if (isNaN(limit)) return false;
      return answers.some(function (v) {
        var n = parseInt(v, 10);
        return !isNaN(n) && String(n) === v && (op === "lte" ? n <= limit : n >= limit);
      });
    }
    var accepted = op === "any" ? expected.split("|").map(function (s) { return s.trim(); }) : [expected];
    return answers.some(function (v) { return accepted.indexOf(v) !== -1; });
  }
  function update(form) {
    form.querySelectorAll(".sv-question[data-show-key]").forEach(function (block) {
      var show = met(form, block);
      block.hidden = !show;
      block.querySelectorAll("input, textarea").forEach(function (el) { el.disabled = !show; });
    });
  }
  document.querySelectorAll("form.sv-form").forEach(function (form) {
    form.addEventListener("change", function () { update(form); });
    form.addEventListener("input", function () { update(form); });
    update(form);
  });
})();
