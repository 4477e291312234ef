/* The Export page's start form: while "Answers" is chosen, the formats it cannot be written as
 * (radios marked data-labels-only: COCO, JSONL, Label Studio) are disabled and a note says why;
 * a format that was chosen and is now disabled gives way to the first one left (CSV). The
 * server refuses them too (review/forms/jobs.py), for a page without scripts.
 */
(function () {
  "use strict";

  function sync(form) {
    var kind = form.querySelector('input[name="kind"]:checked');
    var answers = kind !== null && kind.value === "answers";
    var formats = form.querySelectorAll('input[name="format"]');
    var movedFrom = null;
    for (var i = 0; i < formats.length; i++) {
      var radio = formats[i];
      if (!radio.hasAttribute("data-labels-only")) continue;
      radio.disabled = answers;
      if (answers && radio.checked) {
        radio.checked = false;
        movedFrom = radio;
      }
    }
    if (movedFrom !== null) {
      var first = form.querySelector('input[name="format"]:not([data-labels-only])');
      if (first) first.checked = true;
    }
    var note = form.querySelector("[data-answers-note]");
    if (note) note.hidden = !answers;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target || target.name !== "kind") return;
    var form = target.closest("#export-start");
    if (form) sync(form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("export-start");
    if (form) sync(form);
  });
})();
