/* EmoReview keyboard shortcuts and small htmx glue. No inline scripts: everything lives here.
 *
 * On the sample page: 1-9 pick the emotion shown with that key, Enter saves the decision,
 * J / K open the next / previous sample (at either end a short message says why nothing opens).
 * On the queue's list J / K move the keyboard focus down / up the rows; Enter opens the row's
 * sample (the focused link). None of them fire while typing in a text field.
 * Drafts autosave through htmx attributes in the form (hx-trigger="change delay:800ms").
 */
(function () {
  "use strict";

  // Time spent on this sample's page: the visible time, kept across reloads in this tab
  // (sessionStorage, keyed by the page's path) so a reload or a mask click that reloads does
  // not restart it; cleared once the decision is saved. Hidden-tab time does not count.
  var TIME_KEY = "emoreview:time-spent:" + window.location.pathname;
  var timedPage = !!document.querySelector('input[name="time_spent_ms"]');
  var spentBefore = timedPage ? readStoredTime() : 0;
  var visibleSince = document.visibilityState === "hidden" ? null : Date.now();
  var timeSaved = false;

  function readStoredTime() {
    try {
      var stored = Number(window.sessionStorage.getItem(TIME_KEY));
      return isFinite(stored) && stored > 0 ? stored : 0;
    } catch (error) {
      return 0; // storage blocked: count this page load only
    }
  }

  function timeSpentMs() {
    var running = visibleSince === null ? 0 : Date.now() - visibleSince;
    return Math.max(0, Math.round(spentBefore + running));
  }

  function storeTimeSpent() {
    if (!timedPage || timeSaved) return;
    try {
      window.sessionStorage.setItem(TIME_KEY, String(timeSpentMs()));
    } catch (error) {
      /* storage full or blocked: nothing to keep */
    }
  }

  function forgetTimeSpent() {
    timeSaved = true;
    try {
      window.sessionStorage.removeItem(TIME_KEY);
    } catch (error) {
      /* nothing stored */
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      spentBefore = timeSpentMs();
      visibleSince = null;
      storeTimeSpent();
    } else if (visibleSince === null) {
      visibleSince = Date.now();
    }
  });
  window.addEventListener("pagehide", storeTimeSpent);

  // Inputs whose keys are text, not commands. Radios and checkboxes are not typing targets.
  var NON_TEXT_INPUTS = ["radio", "checkbox", "button", "submit", "reset", "hidden", "range"];

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") return true;
    if (tag === "input") return NON_TEXT_INPUTS.indexOf((target.type || "text").toLowerCase()) < 0;
    return false;
  }

  // Shared with masks.js (loaded after this file, both deferred) so the rule lives in one place.
  window.EmoReview = window.EmoReview || {};
  window.EmoReview.isTyping = isTyping;

  function adjudicationForm() {
    return document.getElementById("adjudication-form");
  }

  function pickEmotion(key) {
    var form = adjudicationForm();
    if (!form) return false;
    var radio = form.querySelector('[data-emotion-key="' + key + '"] input[type="radio"]');
    if (!radio) return false;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function follow(id) {
    var link = document.getElementById(id);
    if (!link || !link.href) return false;
    window.location.assign(link.href);
    return true;
  }

  // Where J / K found no sample to open: a short status line next to the sample's J / K buttons.
  function sayAtEnd(key) {
    var nav = document.querySelector(".sample-nav");
    if (!nav) return false;
    var box = document.getElementById("key-status");
    if (!box) {
      box = document.createElement("p");
      box.id = "key-status";
      box.className = "muted key-status";
      box.setAttribute("role", "status");
      nav.insertAdjacentElement("afterend", box);
    }
    var words = endWords(key, !!nav.closest(".work-nav"));
    // Emptied first, so saying the same words again is announced again.
    box.textContent = "";
    window.setTimeout(function () {
      box.textContent = words;
    }, 50);
    return true;
  }

  function endWords(key, ownWork) {
    if (key === "k") return "K: this is the first sample, there is none before it.";
    if (!ownWork) return "J: this is the last sample, there is none after it.";
    // Only a sample still to answer is "in your hands"; an answered one (its answer open to
    // change) is simply the last of the work.
    var form = adjudicationForm();
    if (form && form.hasAttribute("data-in-hand")) {
      return "J: this is the last sample in your hands: save or skip it, then J brings a new one.";
    }
    return "J: no new sample is waiting for you now.";
  }

  // The queue's list (reviewers' queue, an annotator's own work): J / K move the focus from row
  // to row (the focus ring marks the row's link) and Enter follows it as on any focused link.
  function queueRowLinks() {
    var links = document.querySelectorAll("table.queue tbody th[scope=row] a");
    return Array.prototype.slice.call(links);
  }

  function moveInQueue(step) {
    var links = queueRowLinks();
    if (!links.length) return false;
    var at = links.indexOf(document.activeElement);
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1) : at + step;
    next = Math.max(0, Math.min(links.length - 1, next));
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
    return true;
  }

  function nextOrPrevious(key) {
    var id = key === "j" ? "next-sample" : "prev-sample";
    return follow(id) || moveInQueue(key === "j" ? 1 : -1) || sayAtEnd(key);
  }

  function submitDecision() {
    var form = adjudicationForm();
    if (!form) return false;
    // requestSubmit fires "submit", so htmx (when loaded) sends it; otherwise a plain POST.
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.submit();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var handled = false;
    if (event.key === "Enter") {
      // Let Enter keep its meaning on links, buttons and in multi-line text.
      var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
      if (tag === "textarea" || tag === "a" || tag === "button" || tag === "select") return;
      if (target && target.isContentEditable) return;
      if (target && target.form && target.form !== adjudicationForm()) return;
      handled = submitDecision();
    } else if (isTyping(target)) {
      return;
    } else if (/^[1-9]$/.test(event.key)) {
      handled = pickEmotion(event.key);
    } else if (event.key === "j" || event.key === "J" || event.key === "k" || event.key === "K") {
      handled = nextOrPrevious(event.key.toLowerCase());
    }
    if (handled) event.preventDefault();
  });

  // Time spent, written just before the form is sent.
  function stampTimeSpent(form) {
    var field = form && form.querySelector('input[name="time_spent_ms"]');
    if (field) field.value = String(timeSpentMs());
  }

  // Capture phase on document runs before htmx reads the form's values.
  document.addEventListener(
    "submit",
    function (event) {
      if (!event.target || event.target.id !== "adjudication-form") return;
      stampTimeSpent(event.target);
      // Without htmx the browser posts and leaves the page: the time goes with this post.
      if (!window.htmx) forgetTimeSpent();
    },
    true
  );

  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.id === "adjudication-form") {
      event.detail.parameters.time_spent_ms = String(timeSpentMs());
    }
  });

  // 422 = the form came back with its errors; 409 = someone else changed the label first and
  // the answer shows their version next to yours. Swap both in (htmx skips 4xx bodies).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr && event.detail.xhr.status;
    if (status === 422 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // One decision per page: a second Enter while the first is in flight (or while the browser
  // follows HX-Redirect) must not store the decision twice.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!form || form.id !== "adjudication-form") return;
    if (form.dataset.sent) event.preventDefault();
    else form.dataset.sent = "1";
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form || form.id !== "adjudication-form") return;
    var xhr = event.detail.xhr;
    if (xhr && xhr.status < 400 && xhr.getResponseHeader("HX-Redirect")) {
      forgetTimeSpent(); // saved: the next visit to this sample starts its own count
    } else {
      delete form.dataset.sent;
    }
  });

  // Back / Forward through the queue's filters: htmx puts back the page's HTML, in which each
  // <select> shows the option the server marked, not the one chosen since. The URL is what the
  // rows were drawn from, so the selects are set from it (an absent one: its data-default).
  function showFiltersOfUrl() {
    var form = document.querySelector("form.filters");
    if (!form) return;
    var params = new URLSearchParams(window.location.search);
    Array.prototype.forEach.call(form.querySelectorAll("select[name]"), function (select) {
      var wanted = params.has(select.name) ? params.get(select.name) : select.dataset.default || "";
      var known = Array.prototype.some.call(select.options, function (option) {
        return option.value === wanted;
      });
      select.value = known ? wanted : ""; // an unknown value: the server dropped that filter
    });
  }
  document.addEventListener("htmx:historyRestore", showFiltersOfUrl);

  // A table wider than its box scrolls sideways; on a phone nothing said so (the proposals'
  // third column, the queue's margin and status were simply cut off). The edge with more
  // table beyond it fades out (app.css: .more-left / .more-right).
  function markTableOverflow(wrap) {
    var beyond = wrap.scrollWidth - wrap.clientWidth;
    wrap.classList.toggle("more-right", wrap.scrollLeft < beyond - 1);
    wrap.classList.toggle("more-left", wrap.scrollLeft > 1);
  }
  function markTables() {
    Array.prototype.forEach.call(document.querySelectorAll(".table-wrap"), markTableOverflow);
  }
  document.addEventListener(
    "scroll",
    function (event) {
      var wrap = event.target;
      if (wrap.classList && wrap.classList.contains("table-wrap")) markTableOverflow(wrap);
    },
    { capture: true, passive: true }
  );
  window.addEventListener("resize", markTables);
  document.addEventListener("DOMContentLoaded", markTables);
  document.addEventListener("htmx:afterSettle", markTables);

  // After an error swap, put focus on the first invalid field so keyboard users land there.
  document.addEventListener("htmx:afterSwap", function () {
    var form = adjudicationForm();
    if (!form || !form.querySelector("div.errorlist")) return;
    var invalid = form.querySelector(".invalid input:not([type='hidden'])");
    if (invalid) invalid.focus();
  });
})();
