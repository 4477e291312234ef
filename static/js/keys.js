/* Keys for the frequent actions of the sample page that app.js and masks.js leave free:
 *
 *   [ and ]  confidence down / up by 0.5 (the field's step), within 0..10
 *   S        skip the sample (a plain POST of #skip-form; it stays under "Skipped")
 *   N        put the cursor in the notes; Esc in a field of the answer form takes it out again
 *   ?        open / close #keys-help, the <dialog> listing every key of the page
 *
 * 1-9, Enter, J/K are app.js's; E A M . , U R masks.js's; + = - _ 0 Z viewer.js's. None of
 * these fire while typing (app.js's isTyping), and while the list is open only ?, Esc and Tab
 * reach the page, so a key meant for the list never changes the answer behind it.
 */
(function () {
  "use strict";

  var STEP = 0.5;

  function isTyping(target) {
    var shared = window.EmoReview && window.EmoReview.isTyping; // defined in app.js
    return shared ? shared(target) : false;
  }

  function answerForm() {
    return document.getElementById("adjudication-form");
  }

  function helpDialog() {
    return document.getElementById("keys-help");
  }

  // Snap to the step first, so a prefilled 7.3 goes to 7.5 up and 7 down.
  function stepped(value, direction, min, max) {
    var steps = value / STEP;
    var next = direction > 0 ? Math.floor(steps + 1e-9) + 1 : Math.ceil(steps - 1e-9) - 1;
    return Math.min(max, Math.max(min, next * STEP));
  }

  function stepConfidence(direction) {
    var form = answerForm();
    var field = form && form.querySelector('input[name="confidence"]');
    if (!field || field.disabled || field.readOnly) return false;
    var min = parseFloat(field.min || "0");
    var max = parseFloat(field.max || "10");
    var value = parseFloat(field.value);
    field.value = String(stepped(isNaN(value) ? (min + max) / 2 : value, direction, min, max));
    // "change" is what the draft autosave and any counter listen to.
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function skip() {
    var form = document.getElementById("skip-form");
    if (!form) return false;
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.submit();
    return true;
  }

  function focusNotes() {
    var form = answerForm();
    var notes = form && form.querySelector('textarea[name="notes"]');
    if (!notes) return false;
    notes.focus();
    return true;
  }

  function toggleHelp() {
    var dialog = helpDialog();
    if (!dialog || typeof dialog.showModal !== "function") return false;
    if (dialog.open) dialog.close();
    else dialog.showModal();
    return true;
  }

  // Capture phase on window: runs before the document listeners of app.js, masks.js and
  // viewer.js, so an open list can keep their keys from acting on the page behind it.
  window.addEventListener(
    "keydown",
    function (event) {
      var dialog = helpDialog();
      if (!dialog || !dialog.open) return;
      if (event.key === "?") {
        dialog.close();
        event.preventDefault();
      }
      if (event.key !== "Escape" && event.key !== "Tab") event.stopPropagation();
    },
    true
  );

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var handled = false;
    if (isTyping(target)) {
      // Esc leaves a field of the answer form, so the keys work again without the mouse.
      if (event.key === "Escape" && target.form && target.form === answerForm()) {
        target.blur();
        handled = true;
      }
    } else if (event.key === "[" || event.key === "]") {
      handled = stepConfidence(event.key === "]" ? 1 : -1);
    } else if (event.key === "s" || event.key === "S") {
      handled = skip();
    } else if (event.key === "n" || event.key === "N") {
      handled = focusNotes();
    } else if (event.key === "?") {
      handled = toggleHelp();
    }
    if (handled) event.preventDefault();
  });
})();
