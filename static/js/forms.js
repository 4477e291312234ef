/* Form helpers. Character counters: an element with data-counter-for="<id>" shows how much of
 * that field's maxlength is used ("120 / 2000 characters") and is marked when the limit is
 * reached. The browser itself stops typing at maxlength; the server refuses more (review/limits.py).
 * No inline scripts: everything lives here.
 */
(function () {
  "use strict";

  function counterFor(field) {
    if (!field.id) return null;
    return document.querySelector('[data-counter-for="' + field.id + '"]');
  }

  function update(counter) {
    var field = document.getElementById(counter.getAttribute("data-counter-for"));
    if (!field) return;
    var limit = parseInt(field.getAttribute("maxlength"), 10);
    // The length maxlength measures; a line break counts once here and on the server.
    var used = field.value.length;
    if (!(limit > 0)) {
      counter.textContent = used + " characters";
      return;
    }
    var full = used >= limit;
    counter.textContent = used + " / " + limit + " characters" + (full ? " · limit reached" : "");
    counter.classList.toggle("at-limit", full);
    counter.classList.toggle("near-limit", !full && used >= limit * 0.9);
  }

  function updateAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var counters = scope.querySelectorAll("[data-counter-for]");
    for (var i = 0; i < counters.length; i++) update(counters[i]);
  }

  document.addEventListener("input", function (event) {
    var counter = event.target ? counterFor(event.target) : null;
    if (counter) update(counter);
  });

  // Swapped-in forms (a saved answer, a validation error, a restored draft) count at once.
  document.addEventListener("htmx:load", function (event) {
    updateAll(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    updateAll(document);
  });
})();
