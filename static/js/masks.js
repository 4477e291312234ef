/* Click-to-refine masks on the sample page (templates/review/_mask_panel.html).
 *
 * On the image: click adds a point, Shift+click or right click removes, a drag draws a box.
 * Each becomes a POST (htmx) whose answer is the element's state partial; this script draws
 * that partial's mask overlays (PNG) on the element's canvas and its clicks on the SVG.
 * Keys (none while typing): M or . / , next / previous mask candidate, Ctrl+Z / U undo,
 * Ctrl+Shift+Z / R redo, A accept, E next element. 1-9, Enter and J/K stay app.js's.
 * Without JavaScript the panel's forms post plainly and <noscript> PNGs show the masks.
 */
(function () {
  "use strict";

  var DRAG_PX = 5; // a press that moves less than this (screen pixels) is a click

  function isTyping(target) {
    return window.EmoReview.isTyping(target); // defined in app.js
  }

  function panel() {
    return document.getElementById("mask-panel");
  }

  function stage() {
    return document.querySelector(".image-panel .stage");
  }

  function activeRole() {
    var checked = document.querySelector('input[name="mask-role"]:checked');
    return checked ? checked.value : null;
  }

  function stateFor(role) {
    return document.getElementById("mask-state-" + role);
  }

  function canEdit() {
    var p = panel();
    return !!p && p.dataset.canEdit === "1";
  }

  // The overlays are PNG data URLs in the element's colour (transparent elsewhere), at the
  // image's size or scaled down for display; drawn without smoothing, so pixels stay pixels.
  var paintTokens = {};

  function overlaysOf(state) {
    var chosen = state.querySelector(".mask-candidates button.chosen");
    if (chosen && chosen.dataset.png) return [chosen.dataset.png];
    if (chosen) return null; // chosen here, its overlay comes with the server's answer
    var list = state.querySelectorAll(".mask-data .mask-png");
    var urls = [];
    for (var i = 0; i < list.length; i += 1) urls.push(list[i].value);
    return urls;
  }

  function paint(role) {
    var state = stateFor(role);
    var s = stage();
    if (!state || !s) return;
    var canvas = s.querySelector('canvas.mask-canvas[data-role="' + role + '"]');
    if (role === activeRole()) drawMarks();
    var urls = canvas && overlaysOf(state);
    if (!urls) return;
    var version = state.dataset.version;
    var token = (paintTokens[role] || 0) + 1;
    paintTokens[role] = token;
    var images = urls.map(function (url) {
      var image = new Image();
      image.src = url;
      return image;
    });
    Promise.all(
      images.map(function (image) {
        return image.decode().catch(function () {});
      })
    ).then(function () {
      if (paintTokens[role] !== token) return; // a newer paint started meanwhile
      var ctx = canvas.getContext("2d");
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.imageSmoothingEnabled = false;
      images.forEach(function (image) {
        if (image.naturalWidth) ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
      });
      canvas.dataset.version = version;
    });
  }

  // Clicks and box of the active element's head edit, plus any click still on its way.
  var pendingMarks = [];

  function svgElement(name, attrs) {
    var el = document.createElementNS("http://www.w3.org/2000/svg", name);
    Object.keys(attrs).forEach(function (key) {
      el.setAttribute(key, attrs[key]);
    });
    return el;
  }

  function drawMarks() {
    var s = stage();
    var svg = s && s.querySelector(".mask-marks");
    var state = stateFor(activeRole());
    if (!svg || !state) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var marks = JSON.parse(state.dataset.marks || '{"points":[],"box":null}');
    var size = svg.viewBox.baseVal;
    var radius = Math.max(size.width, size.height) / 120;
    if (marks.box) {
      var b = marks.box;
      svg.appendChild(
        svgElement("rect", { class: "mask-box", x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1] })
      );
    }
    marks.points.concat(pendingMarks).forEach(function (p) {
      var cls = "mask-point " + (p[2] === 1 ? "add" : "remove") + (p[3] ? " pending" : "");
      svg.appendChild(svgElement("circle", { class: cls, cx: p[0], cy: p[1], r: radius }));
    });
  }

  function selectRole(role) {
    var p = panel();
    if (!p || !stateFor(role)) return;
    var radio = p.querySelector('input[name="mask-role"][value="' + role + '"]');
    if (radio) radio.checked = true;
    p.dataset.role = role;
    document.querySelectorAll(".mask-state").forEach(function (el) {
      el.classList.toggle("active", el.dataset.role === role);
    });
    document.querySelectorAll(".mask-canvas").forEach(function (el) {
      el.classList.toggle("active", el.dataset.role === role);
    });
    pendingMarks = [];
    drawMarks();
  }

  function csrfHeaders() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (e) {
      return {};
    }
  }

  function send(role, urlKey, values) {
    var state = stateFor(role);
    if (!state || !window.htmx) return;
    showError(role, "");
    window.htmx.ajax("POST", state.dataset[urlKey], {
      source: state,
      target: state,
      swap: "outerHTML",
      values: values || {},
      headers: csrfHeaders(),
    });
  }

  function showError(role, message) {
    var state = stateFor(role);
    var box = state && state.querySelector(".mask-error");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  // Pointer input on the image: image pixels from the displayed position.
  function toImage(event, img) {
    var rect = img.getBoundingClientRect();
    var w = +img.getAttribute("width");
    var h = +img.getAttribute("height");
    var x = ((event.clientX - rect.left) / rect.width) * w;
    var y = ((event.clientY - rect.top) / rect.height) * h;
    return [Math.min(Math.max(x, 0), w), Math.min(Math.max(y, 0), h)];
  }

  function round1(v) {
    return Math.round(v * 10) / 10;
  }

  function bindStage() {
    var s = stage();
    var img = s && s.querySelector("img");
    if (!s || !img || !canEdit() || s.dataset.masksBound) return;
    s.dataset.masksBound = "1";
    s.classList.add("mask-editing");
    var press = null;

    s.addEventListener("contextmenu", function (event) {
      event.preventDefault();
    });
    s.addEventListener("pointerdown", function (event) {
      if (event.button !== 0 && event.button !== 2) return;
      event.preventDefault();
      press = { x: event.clientX, y: event.clientY, at: toImage(event, img), button: event.button };
      s.setPointerCapture(event.pointerId);
    });
    s.addEventListener("pointermove", function (event) {
      if (!press) return;
      var moved = Math.abs(event.clientX - press.x) + Math.abs(event.clientY - press.y);
      if (moved < DRAG_PX) return;
      press.dragging = true;
      var end = toImage(event, img);
      var svg = s.querySelector(".mask-marks");
      var rubber = svg.querySelector(".mask-rubber");
      if (!rubber) {
        rubber = svgElement("rect", { class: "mask-rubber" });
        svg.appendChild(rubber);
      }
      rubber.setAttribute("x", Math.min(press.at[0], end[0]));
      rubber.setAttribute("y", Math.min(press.at[1], end[1]));
      rubber.setAttribute("width", Math.abs(end[0] - press.at[0]));
      rubber.setAttribute("height", Math.abs(end[1] - press.at[1]));
    });
    s.addEventListener("pointerup", function (event) {
      if (!press) return;
      var start = press;
      press = null;
      var role = activeRole();
      if (!role) return;
      if (start.dragging) {
        var end = toImage(event, img);
        send(role, "editUrl", {
          x1: round1(start.at[0]), y1: round1(start.at[1]), x2: round1(end[0]), y2: round1(end[1]),
        });
        return;
      }
      var label = start.button === 2 || event.shiftKey ? 0 : 1;
      pendingMarks.push([start.at[0], start.at[1], label, true]);
      drawMarks();
      send(role, "editUrl", { x: round1(start.at[0]), y: round1(start.at[1]), label: label });
    });
    s.addEventListener("pointercancel", function () {
      press = null;
      drawMarks();
    });
  }

  // Candidates: show the next one at once, then store the choice.
  function cycle(step) {
    var role = activeRole();
    var state = stateFor(role);
    var buttons = state ? state.querySelectorAll(".mask-candidates button") : [];
    if (buttons.length < 2) return false;
    var current = 0;
    buttons.forEach(function (b, i) {
      if (b.classList.contains("chosen")) current = i;
    });
    var next = (current + step + buttons.length) % buttons.length;
    buttons[current].classList.remove("chosen");
    buttons[current].setAttribute("aria-pressed", "false");
    buttons[next].classList.add("chosen");
    buttons[next].setAttribute("aria-pressed", "true");
    paint(role);
    send(role, "chooseUrl", { candidate: buttons[next].value });
    return true;
  }

  function nextRole() {
    var radios = document.querySelectorAll('input[name="mask-role"]');
    if (!radios.length) return false;
    var index = 0;
    radios.forEach(function (r, i) {
      if (r.checked) index = i;
    });
    selectRole(radios[(index + 1) % radios.length].value);
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (!panel() || event.defaultPrevented || event.altKey || event.metaKey) return;
    if (isTyping(event.target)) return;
    var key = event.key.toLowerCase();
    var role = activeRole();
    var handled = false;
    if (event.ctrlKey) {
      if (key !== "z" || !canEdit()) return;
      send(role, event.shiftKey ? "redoUrl" : "undoUrl");
      handled = true;
    } else if (key === "m" || key === ".") {
      handled = canEdit() && cycle(1);
    } else if (key === ",") {
      handled = canEdit() && cycle(-1);
    } else if (key === "u" || key === "r" || key === "a") {
      if (!canEdit()) return;
      send(role, { u: "undoUrl", r: "redoUrl", a: "acceptUrl" }[key]);
      handled = true;
    } else if (key === "e") {
      handled = nextRole();
    }
    if (handled) event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "mask-role") selectRole(event.target.value);
  });

  // A response read from the database earlier than what is shown must not replace it (a slow
  // poll answering after a newer click, say). data-version: microseconds when it was read.
  var VERSION = /^\s*<section id="mask-state-([a-z]+)" data-version="(\d+)"/;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var match = VERSION.exec(event.detail.serverResponse || "");
    if (!match) return;
    var shown = stateFor(match[1]);
    if (shown && +shown.dataset.version > +match[2]) event.detail.shouldSwap = false;
  });

  // A poller whose panel was replaced meanwhile stops.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.classList && elt.classList.contains("mask-progress") && !elt.isConnected) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.classList && elt.classList.contains("mask-state")) {
      var role = elt.dataset.role;
      elt.classList.toggle("active", role === activeRole());
      if (role === activeRole()) pendingMarks = [];
      paint(role);
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var path = (event.detail.pathInfo && event.detail.pathInfo.requestPath) || "";
    if (path.indexOf("/masks/") < 0) return;
    pendingMarks = [];
    drawMarks();
    var xhr = event.detail.xhr;
    showError(activeRole(), (xhr && xhr.responseText) || "The request failed.");
  });

  function init() {
    var p = panel();
    if (!p) return;
    p.classList.add("js-masks");
    var checked = activeRole() || "subject";
    document.querySelectorAll(".mask-state").forEach(function (el) {
      paint(el.dataset.role);
    });
    selectRole(checked);
    bindStage();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
