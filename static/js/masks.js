/* Click-to-refine masks on the sample page (templates/review/_mask_panel.html).
 *
 * On the image: click adds a point, Shift+click or right click removes, a drag draws a box.
 * Each element (background, attribute, subject) has its own line of requests, sent one at a
 * time: clicks made while one is on its way wait (drawn as pending) and go together in the
 * next POST, which stores one edit per click, so nothing is lost and undo takes back one click.
 * Undo, redo, choose and accept wait their turn the same way. Every answer is the element's
 * state partial; this script draws its mask (PNG data URLs, opaque) on the element's canvas
 * with the person's opacity, visibility and outline choice, and the clicks on the SVG.
 * Keys (none while typing): M or . / , next / previous mask candidate, Ctrl+Z / U undo,
 * Ctrl+Shift+Z / R redo, A accept, E next element. 1-9, Enter and J/K stay app.js's.
 * Without JavaScript the panel's forms post plainly and <noscript> PNGs show the masks.
 */
(function () {
  "use strict";

  var DRAG_PX = 5; // a press that moves less than this (screen pixels) is a click
  var VIEW_KEY = "emoreview.maskView"; // opacity and outline, kept for the next samples

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

  function canvasFor(role) {
    var s = stage();
    return s && s.querySelector('canvas.mask-canvas[data-role="' + role + '"]');
  }

  function canEdit() {
    var p = panel();
    return !!p && p.dataset.canEdit === "1";
  }

  // How masks are drawn ---------------------------------------------------------------------

  var view = { opacity: 0.5, outline: false, hidden: {} };
  try {
    var saved = JSON.parse(window.localStorage.getItem(VIEW_KEY) || "{}");
    if (saved.opacity >= 0.1 && saved.opacity <= 1) view.opacity = saved.opacity;
    view.outline = saved.outline === true;
  } catch (e) {
    // no storage (private mode, a file: page): the defaults
  }

  function saveView() {
    try {
      window.localStorage.setItem(VIEW_KEY, JSON.stringify({ opacity: view.opacity, outline: view.outline }));
    } catch (e) {
      // not kept: fine
    }
  }

  // The overlays are opaque PNG data URLs in the element's colour, at the image's size or
  // scaled down; drawn without smoothing, so pixels stay pixels. `layers` holds each element's
  // decoded images, so opacity, visibility and outline redraw without decoding again.
  var layers = {};
  var paintTokens = {};

  function overlaysOf(state) {
    var chosen = state.querySelector(".mask-candidates button.chosen");
    if (chosen) {
      var png = state.querySelector('.mask-data .mask-png[data-candidate="' + chosen.value + '"]');
      return png ? [png.value] : null; // null: its overlay comes with the server's answer
    }
    var list = state.querySelectorAll(".mask-data .mask-png:not(.mask-alternative)");
    return Array.prototype.map.call(list, function (el) {
      return el.value;
    });
  }

  function paint(role) {
    var state = stateFor(role);
    if (role === activeRole()) drawMarks();
    var urls = state && canvasFor(role) && overlaysOf(state);
    if (!urls) return;
    var version = state.dataset.version;
    var key = urls.join(" ");
    var token = (paintTokens[role] || 0) + 1;
    paintTokens[role] = token;
    if (layers[role] && layers[role].key === key) {
      layers[role].version = version;
      render(role);
      return;
    }
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
      layers[role] = { key: key, images: images, version: version };
      render(role);
    });
  }

  function render(role) {
    var canvas = canvasFor(role);
    var layer = layers[role];
    if (!canvas || !layer) return;
    var ctx = canvas.getContext("2d");
    ctx.globalCompositeOperation = "source-over";
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    canvas.dataset.version = layer.version;
    if (view.hidden[role]) return;
    ctx.imageSmoothingEnabled = false;
    layer.images.forEach(function (image) {
      if (image.naturalWidth) ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    });
    if (view.outline) keepOutline(canvas);
    ctx.globalCompositeOperation = "destination-in"; // every painted pixel at the chosen alpha
    ctx.fillStyle = "rgba(0, 0, 0, " + view.opacity + ")";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.globalCompositeOperation = "source-over";
  }

  var scratch = document.createElement("canvas");

  // Outline: the mask less its erosion by about two screen pixels (shifted copies, composited).
  function keepOutline(canvas) {
    var w = canvas.width;
    var r = Math.max(1, Math.round((2 * w) / Math.max(canvas.getBoundingClientRect().width, 1)));
    scratch.width = w;
    scratch.height = canvas.height;
    var s = scratch.getContext("2d");
    s.imageSmoothingEnabled = false;
    s.drawImage(canvas, 0, 0);
    s.globalCompositeOperation = "destination-in";
    [[r, 0], [-r, 0], [0, r], [0, -r], [r, r], [r, -r], [-r, r], [-r, -r]].forEach(function (d) {
      s.drawImage(canvas, d[0], d[1]);
    });
    var ctx = canvas.getContext("2d");
    ctx.globalCompositeOperation = "destination-out";
    ctx.drawImage(scratch, 0, 0);
    ctx.globalCompositeOperation = "source-over";
  }

  function renderAll() {
    Object.keys(layers).forEach(render);
  }

  // Clicks and box of the active element's head edit, plus its clicks still on their way.
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
    var role = activeRole();
    var state = stateFor(role);
    if (!svg || !state) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (view.hidden[role]) return; // a hidden element hides its clicks with its mask
    var marks = JSON.parse(state.dataset.marks || '{"points":[],"box":null}');
    var size = svg.viewBox.baseVal;
    var radius = Math.max(size.width, size.height) / 120;
    if (marks.box) {
      var b = marks.box;
      svg.appendChild(
        svgElement("rect", { class: "mask-box", x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1] })
      );
    }
    var pending = pendingClicks(role);
    marks.points.concat(pending).forEach(function (p, i) {
      var cls = "mask-point " + (p[2] === 1 ? "add" : "remove");
      if (i >= marks.points.length) cls += " pending";
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
    drawMarks();
  }

  // Requests, one at a time per element ------------------------------------------------------

  var queues = {};

  function queueOf(role) {
    if (!queues[role]) queues[role] = { ops: [], sending: [], busy: false, retry: 0 };
    return queues[role];
  }

  function pendingClicks(role) {
    var q = queueOf(role);
    return q.ops.reduce(function (all, op) {
      return op.clicks ? all.concat(op.clicks) : all;
    }, q.sending.slice());
  }

  // The stage's pointer shows progress while a request is on its way or a mask computes.
  function showBusy() {
    var s = stage();
    if (!s) return;
    var busy = Object.keys(queues).some(function (role) {
      return queues[role].busy;
    });
    var computing = document.querySelector('.mask-state[data-status="pending"], .mask-state[data-status="running"]');
    s.classList.toggle("mask-busy", busy || !!computing);
    Object.keys(queues).forEach(function (role) {
      showSending(role, queues[role].busy);
    });
  }

  // While a click is on its way the status says so (in-process segmenting answers only when
  // done: "No mask yet" stood there for seconds); the answer's state partial replaces it.
  function showSending(role, sending) {
    var status = document.querySelector("#mask-state-" + role + " .mask-status");
    if (!status) return;
    var note = status.querySelector(".mask-sending");
    if (sending && !note && !status.querySelector(".mask-progress")) {
      note = document.createElement("span");
      note.className = "mask-progress mask-sending";
      note.textContent = "computing mask…";
      status.insertBefore(note, status.firstChild);
    } else if (!sending && note) {
      note.remove();
    }
    status.classList.toggle("mask-status-sending", !!(sending && note));
  }

  function isBusy(role) {
    var q = queueOf(role);
    return q.busy || q.ops.length > 0;
  }

  function addClick(role, click) {
    var q = queueOf(role);
    var last = q.ops[q.ops.length - 1];
    if (last && last.clicks) last.clicks.push(click);
    else q.ops.push({ urlKey: "editUrl", clicks: [click] });
    drawMarks();
    pump(role);
  }

  function enqueue(role, urlKey, values) {
    if (!role) return;
    queueOf(role).ops.push({ urlKey: urlKey, values: values || {} });
    pump(role);
  }

  function csrfHeaders() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (e) {
      return {};
    }
  }

  function round1(v) {
    return Math.round(v * 10) / 10;
  }

  function pump(role) {
    var q = queueOf(role);
    var state = stateFor(role);
    if (q.busy || !q.ops.length || !state || !window.htmx) return;
    var op = q.ops.shift();
    var values = op.values;
    if (op.clicks) {
      q.sending = op.clicks;
      values = { clicks: JSON.stringify(op.clicks.map(function (c) {
        return [round1(c[0]), round1(c[1]), c[2]];
      })) };
    }
    q.busy = true;
    showBusy();
    showError(role, "");
    // No poll replaces the state while this is on its way (see htmx:beforeRequest below), so
    // the source stays in the page and errors.js finds the element's error line from it.
    window.htmx
      .ajax("POST", state.dataset[op.urlKey], {
        source: state,
        target: state,
        swap: "outerHTML",
        values: values,
        headers: csrfHeaders(),
      })
      .then(
        function () {
          q.busy = false;
          q.sending = [];
          q.retry = 0;
          drawMarks();
          pump(role);
          showBusy();
        },
        function () {
          // No answer (network lost): nothing is dropped; the same goes again shortly.
          q.ops.unshift(op);
          q.busy = false;
          q.sending = [];
          showBusy();
          q.retry = Math.min(2 * (q.retry || 0.5), 16);
          showError(role, "No connection: your clicks are kept and sent again in a moment.");
          window.setTimeout(function () {
            pump(role);
          }, q.retry * 1000);
        }
      );
  }

  function showError(role, message) {
    var state = stateFor(role);
    var box = state && state.querySelector(".mask-error");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  // Pointer input on the image: image pixels from the displayed position (the bounding box
  // follows any zoom or pan transform on the stage).
  function toImage(event, img) {
    var rect = img.getBoundingClientRect();
    var w = +img.getAttribute("width");
    var h = +img.getAttribute("height");
    var x = ((event.clientX - rect.left) / rect.width) * w;
    var y = ((event.clientY - rect.top) / rect.height) * h;
    return [Math.min(Math.max(x, 0), w), Math.min(Math.max(y, 0), h)];
  }

  function showRole(role) {
    var box = document.querySelector('input[name="mask-visible"][value="' + role + '"]');
    if (box && !box.checked) {
      box.checked = true;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    }
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
      showRole(role); // what the person edits, they see
      if (start.dragging) {
        var end = toImage(event, img);
        enqueue(role, "editUrl", {
          x1: round1(start.at[0]), y1: round1(start.at[1]), x2: round1(end[0]), y2: round1(end[1]),
        });
        return;
      }
      addClick(role, [start.at[0], start.at[1], start.button === 2 || event.shiftKey ? 0 : 1]);
    });
    s.addEventListener("pointercancel", function () {
      press = null;
      drawMarks();
    });
  }

  // Candidates: show the chosen one at once, then store the choice (not while clicks are on
  // their way: the choice would land on an edit not shown yet).
  function choose(role, index) {
    var state = stateFor(role);
    var buttons = state ? state.querySelectorAll(".mask-candidates button") : [];
    if (buttons.length < 2 || isBusy(role)) return false;
    buttons.forEach(function (b) {
      var on = b.value === String(index);
      b.classList.toggle("chosen", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    paint(role);
    enqueue(role, "chooseUrl", { candidate: String(index) });
    return true;
  }

  function cycle(step) {
    var role = activeRole();
    var state = stateFor(role);
    var buttons = state ? state.querySelectorAll(".mask-candidates button") : [];
    if (buttons.length < 2) return false;
    var current = 0;
    buttons.forEach(function (b, i) {
      if (b.classList.contains("chosen")) current = i;
    });
    return choose(role, buttons[(current + step + buttons.length) % buttons.length].value);
  }

  function acceptDisabled(role) {
    var state = stateFor(role);
    var button = state && state.querySelector('form[data-mask-action="acceptUrl"] button');
    return !!button && button.disabled;
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
      enqueue(role, event.shiftKey ? "redoUrl" : "undoUrl");
      handled = true;
    } else if (key === "m" || key === ".") {
      handled = canEdit() && cycle(1);
    } else if (key === ",") {
      handled = canEdit() && cycle(-1);
    } else if (key === "u" || key === "r" || key === "a") {
      if (!canEdit()) return;
      // A with "Accept mask" disabled (an empty mask, nothing to accept) does what a click
      // on it does: nothing. While a request is on its way the answer decides, as before.
      if (key === "a" && !isBusy(role) && acceptDisabled(role)) return;
      enqueue(role, { u: "undoUrl", r: "redoUrl", a: "acceptUrl" }[key]);
      handled = true;
    } else if (key === "e") {
      handled = nextRole();
    }
    if (handled) event.preventDefault();
  });

  // The state's forms (undo, redo, accept, candidates, click by coordinates) wait their turn.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var urlKey = form.dataset && form.dataset.maskAction;
    var state = urlKey && form.closest(".mask-state");
    if (!state || !window.htmx) return;
    event.preventDefault();
    var role = state.dataset.role;
    var button = event.submitter;
    if (urlKey === "chooseUrl") {
      if (button) choose(role, button.value);
      return;
    }
    var values = {};
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken") values[name] = value;
    });
    enqueue(role, urlKey, values);
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target) return;
    if (target.name === "mask-role") selectRole(target.value);
    if (target.name === "mask-visible") {
      view.hidden[target.value] = !target.checked;
      render(target.value);
      if (target.value === activeRole()) drawMarks();
    }
    if (target.name === "mask-outline") {
      view.outline = target.checked;
      saveView();
      renderAll();
    }
  });

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (!target || target.name !== "mask-opacity") return;
    view.opacity = +target.value / 100;
    showOpacity(target);
    saveView();
    renderAll();
  });

  function showOpacity(range) {
    var out = range.parentNode.querySelector("output");
    if (out) out.textContent = range.value + "%";
  }

  // A response read from the database earlier than what is shown must not replace it (a slow
  // poll answering after a newer click, say). data-version: microseconds when it was read.
  var VERSION = /^\s*<section id="mask-state-([a-z]+)" data-version="(\d+)"/;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var match = VERSION.exec(event.detail.serverResponse || "");
    if (!match) return;
    var shown = stateFor(match[1]);
    if (shown && +shown.dataset.version > +match[2]) event.detail.shouldSwap = false;
    if (isPoll(event.detail.elt) && queueOf(match[1]).busy) event.detail.shouldSwap = false;
    var target = event.detail.target; // none: a poller whose panel was replaced meanwhile
    if (!target || !target.isConnected) event.detail.shouldSwap = false;
  });

  function isPoll(elt) {
    return !!(elt && elt.classList && elt.classList.contains("mask-progress"));
  }

  // A poller whose panel was replaced meanwhile stops; so does one whose element has a request
  // on its way (its answer brings the state, with a new poller if still computing).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!isPoll(elt)) return;
    var state = elt.closest(".mask-state");
    if (!elt.isConnected || !state || queueOf(state.dataset.role).busy) event.preventDefault();
  });

  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.classList && elt.classList.contains("mask-state")) {
      elt.classList.toggle("active", elt.dataset.role === activeRole());
      paint(elt.dataset.role);
      showBusy();
    }
  });

  var MASK_PATH = /\/masks\/([a-z]+)\//;

  document.addEventListener("htmx:responseError", function (event) {
    var path = (event.detail.pathInfo && event.detail.pathInfo.requestPath) || "";
    var match = MASK_PATH.exec(path);
    if (!match) return;
    var xhr = event.detail.xhr;
    var text = (xhr && xhr.responseText) || "";
    // A short plain-text message from the mask views; anything else (an HTML page) is not shown.
    if (text.length > 500 || text.indexOf("<") >= 0) text = "The request failed (" + xhr.status + ").";
    showError(match[1], text);
  });

  function initView(p) {
    var controls = p.querySelector(".mask-view");
    if (!controls) return;
    var range = controls.querySelector('input[name="mask-opacity"]');
    if (range) {
      range.value = Math.round(view.opacity * 100);
      showOpacity(range);
    }
    var outline = controls.querySelector('input[name="mask-outline"]');
    if (outline) outline.checked = view.outline;
    controls.querySelectorAll('input[name="mask-visible"]').forEach(function (box) {
      view.hidden[box.value] = !box.checked; // as the browser restored the form
    });
    controls.hidden = false;
  }

  function init() {
    var p = panel();
    if (!p) return;
    p.classList.add("js-masks");
    initView(p);
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
