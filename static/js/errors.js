/* No silent failure: every htmx request that fails says so where the person acted.
 *
 * htmx does not swap 4xx/5xx answers (app.js swaps 409 and 422 on purpose: those bring a form
 * or the conflict view back), so nothing typed is ever replaced by an error. This file shows
 * the server's short message (review/http.py answers htmx errors in plain text) next to the
 * form or element that sent the request, and in the page's live region for screen readers:
 * - 401, the session ended: a "Sign in again" link back to this page;
 * - a network failure or timeout: that nothing was saved;
 * - anything else: the server's words, or a default for the status.
 * What the person typed is kept in sessionStorage (per tab, per page) whenever a request from
 * their form fails, and put back into the form when the page opens again (after signing in,
 * or a reload); the draft autosave then stores it. A successful request from the form drops it.
 * The mask panel's own failures are masks.js's (it retries a lost connection); this file adds
 * only the sign-in link there when the session ended.
 */
(function () {
  "use strict";

  var STASH = "emoreview:unsaved:";
  var SERVER_TEXT_MAX = 400; // longer bodies are pages, not messages
  var LOGIN_HEADER = "X-Login-Url";
  var KEPT = "What you typed is still here.";
  var KEPT_FOR_LOGIN = "What you typed is kept and comes back after you sign in.";
  var OFFLINE =
    "No connection to the server: nothing was saved. Try again when you are back online.";
  var TIMEOUT = "The server did not answer in time: nothing may have been saved. Try again.";
  var SKIPPED_FIELDS = ["hidden", "submit", "button", "reset", "file", "password", "image"];

  var DEFAULTS = {
    401: "Your session ended: sign in again.",
    403: "You are not allowed to do this.",
    404: "Not found: it may have been removed.",
    413: "Too large to send: shorten the text or choose a smaller file.",
  };

  function defaultText(status, verb) {
    var text = DEFAULTS[status] || (status >= 500
      ? "The server failed (error " + status + "). Try again in a moment."
      : "The request was refused (error " + status + ").");
    return verb && verb !== "get" && status !== 401 ? text + " Nothing was saved." : text;
  }

  function serverText(xhr) {
    var type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase();
    var text = (xhr.responseText || "").trim();
    if (type.indexOf("text/plain") === 0 && text && text.length <= SERVER_TEXT_MAX) return text;
    return "";
  }

  // ---- where the message goes -------------------------------------------------------------

  function formOf(elt) {
    if (!elt || !elt.closest) return null;
    return elt.tagName === "FORM" ? elt : elt.closest("form");
  }

  function typedFields(form) {
    if (!form) return [];
    return Array.prototype.filter.call(form.elements, function (field) {
      var type = (field.type || "").toLowerCase();
      return field.name && field.name !== "csrfmiddlewaretoken" && !field.disabled &&
        SKIPPED_FIELDS.indexOf(type) < 0 && field.tagName !== "BUTTON";
    });
  }

  // The element the message sits next to: the sending form, else the element (a table's rows
  // cannot hold a message: the table then).
  function anchorOf(elt) {
    var form = formOf(elt);
    if (form) return form;
    return (elt.closest && elt.closest("table")) || elt;
  }

  function existingBox(anchor) {
    if (anchor.tagName === "FORM") return anchor.querySelector(":scope > .request-error");
    var next = anchor.nextElementSibling;
    return next && next.classList.contains("request-error") ? next : null;
  }

  function boxFor(elt) {
    if (!elt || !elt.isConnected) return null;
    // A mask element has its own error line (masks.js writes the server's words there).
    var maskState = elt.closest && elt.closest(".mask-state");
    var maskBox = maskState && maskState.querySelector(".mask-error");
    if (maskBox) return maskBox;
    var anchor = anchorOf(elt);
    var box = existingBox(anchor);
    if (box) return box;
    box = document.createElement("div");
    box.className = "request-error";
    if (anchor.tagName === "FORM") {
      // Beside the form's buttons, where the person just pressed Save.
      var actions = anchor.querySelector(":scope > .actions");
      anchor.insertBefore(box, actions);
    } else {
      anchor.insertAdjacentElement("afterend", box);
    }
    return box;
  }

  function announce(text) {
    var region = document.getElementById("request-status");
    if (!region) return;
    region.textContent = "";
    // A fresh text node after emptying makes screen readers read a repeated message again.
    window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  function show(elt, text, loginUrl) {
    var box = boxFor(elt);
    var said = text + "|" + (loginUrl || "");
    // The same failure again (the autosave after Save, a poll): leave the message, and the
    // link the person may be reaching for, in place.
    if (box && !box.hidden && box.dataset.said === said) return;
    if (box) {
      announce(text);
      if (box.classList.contains("request-error")) {
        box.className = "request-error"; // a "restored" note becomes an error line
        box.removeAttribute("role");
      }
    } else {
      // Nothing left to sit next to (the element was replaced): the live region shows it.
      box = document.getElementById("request-status");
      if (!box) return;
      box.classList.add("shown");
    }
    box.textContent = "";
    var words = document.createElement("span");
    words.textContent = text;
    box.appendChild(words);
    if (loginUrl) {
      var link = document.createElement("a");
      link.className = "button button-primary sign-in-again";
      link.href = loginUrl;
      link.textContent = "Sign in again";
      box.appendChild(document.createTextNode(" "));
      box.appendChild(link);
    }
    box.hidden = false;
    box.dataset.said = said;
  }

  function clear(elt) {
    if (!elt || !elt.isConnected) return;
    var box = existingBox(anchorOf(elt));
    if (box && !box.classList.contains("restored")) box.remove();
  }

  // ---- keeping what was typed -------------------------------------------------------------

  function stashKey(form) {
    return STASH + window.location.pathname + "#" + form.id;
  }

  function stash(form) {
    if (!form || !form.id) return false;
    var values = {};
    var fields = typedFields(form);
    fields.forEach(function (field) {
      var type = (field.type || "").toLowerCase();
      if ((type === "radio" || type === "checkbox") && !field.checked) return;
      (values[field.name] = values[field.name] || []).push(field.value);
    });
    if (!fields.length) return false;
    try {
      window.sessionStorage.setItem(stashKey(form), JSON.stringify(values));
    } catch (e) {
      return false; // storage full or disabled: the message still shows
    }
    return true;
  }

  function dropStash(form) {
    if (!form || !form.id) return;
    try {
      window.sessionStorage.removeItem(stashKey(form));
    } catch (e) {
      /* storage disabled: nothing was kept */
    }
  }

  function setField(field, values) {
    var type = (field.type || "").toLowerCase();
    var before = type === "radio" || type === "checkbox" ? field.checked : field.value;
    if (type === "radio" || type === "checkbox") field.checked = values.indexOf(field.value) >= 0;
    else field.value = values[0];
    return (type === "radio" || type === "checkbox" ? field.checked : field.value) !== before;
  }

  function restore(form) {
    var raw = null;
    try {
      raw = window.sessionStorage.getItem(stashKey(form));
    } catch (e) {
      return;
    }
    if (!raw) return;
    var values = JSON.parse(raw);
    var changed = typedFields(form).filter(function (field) {
      return Object.prototype.hasOwnProperty.call(values, field.name) &&
        setField(field, values[field.name]);
    });
    if (!changed.length) {
      dropStash(form);
      return;
    }
    changed.forEach(function (field) {
      field.dispatchEvent(new Event("input", { bubbles: true }));
    });
    // "change" bubbles to the form's autosave (htmx), which stores the restored values.
    changed[changed.length - 1].dispatchEvent(new Event("change", { bubbles: true }));
    var box = boxFor(form);
    box.classList.add("restored");
    box.setAttribute("role", "status");
    box.textContent = "Restored what you typed here before (it had not been saved yet); " +
      "it is saved as a draft now.";
  }

  // Kept values of this page whose form is gone (answered or skipped meanwhile) are dropped.
  function dropOrphans() {
    var prefix = STASH + window.location.pathname + "#";
    try {
      Object.keys(window.sessionStorage).forEach(function (key) {
        if (key.indexOf(prefix) === 0 && !document.getElementById(key.slice(prefix.length))) {
          window.sessionStorage.removeItem(key);
        }
      });
    } catch (e) {
      /* storage disabled */
    }
  }

  // ---- htmx events ------------------------------------------------------------------------

  // masks.js answers for the mask panel itself (the server's words in the element's error
  // line; a lost connection is retried): only a session that ended needs more, the sign-in link.
  function masksOwn(elt, status) {
    return !!(elt && elt.closest && elt.closest(".mask-state")) && status !== 401;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var elt = event.detail.elt;
    var status = xhr.status;
    if (masksOwn(elt, status)) return;
    var form = formOf(elt);
    var kept = stash(form);
    var verb = event.detail.requestConfig && event.detail.requestConfig.verb;
    var text = serverText(xhr) || defaultText(status, verb);
    var loginUrl = null;
    if (status === 401) {
      loginUrl = xhr.getResponseHeader(LOGIN_HEADER) ||
        "/accounts/login/?next=" + encodeURIComponent(window.location.pathname);
      if (kept) text += " " + KEPT_FOR_LOGIN;
    } else if (kept) {
      text += " " + KEPT;
    }
    show(elt, text, loginUrl);
  });

  function networkFailure(message) {
    return function (event) {
      var elt = event.detail.elt;
      if (masksOwn(elt, 0)) return;
      var kept = stash(formOf(elt));
      show(elt, kept ? message + " " + KEPT : message, null);
    };
  }

  document.addEventListener("htmx:sendError", networkFailure(OFFLINE));
  document.addEventListener("htmx:timeout", networkFailure(TIMEOUT));

  // A whole page is never an answer for a fragment (a login page followed through a redirect,
  // say): refuse the swap and say so instead of nesting one page in another.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (!detail.shouldSwap || detail.target === document.body) return;
    var head = (detail.serverResponse || "").slice(0, 200).trim().toLowerCase();
    if (head.indexOf("<!doctype") !== 0 && head.indexOf("<html") !== 0) return;
    if (detail.elt && detail.elt.closest && detail.elt.closest("[hx-select]")) return;
    detail.shouldSwap = false;
    stash(formOf(detail.elt));
    show(detail.elt, "The server answered with a whole page instead of this part: reload " +
      "the page. " + KEPT, null);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful) return;
    var elt = event.detail.elt;
    var form = formOf(elt);
    dropStash(form);
    clear(elt);
    var region = document.getElementById("request-status");
    if (region) region.classList.remove("shown");
  });

  // ---- pages ------------------------------------------------------------------------------

  function init() {
    document.querySelectorAll("form[id]").forEach(restore);
    dropOrphans();
    // Error pages: "Back" returns to where the person came from (history needs script).
    document.querySelectorAll("[data-history-back]").forEach(function (button) {
      if (window.history.length < 2) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        window.history.back();
      });
    });
  }

  // After htmx has processed the page, so the autosave a restore triggers is listened to.
  // A deferred script runs while readyState is "interactive", before DOMContentLoaded, where
  // htmx processes the page: wait for it, then one more turn.
  function later() {
    window.setTimeout(init, 0);
  }
  if (document.readyState === "complete") later();
  else document.addEventListener("DOMContentLoaded", later);
})();
