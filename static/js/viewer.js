/* Zoom and pan for the sample image (templates/review/_image.html).
 *
 * The stage (image, mask canvases, click marks, boxes, box labels) is resized, never transformed,
 * inside a scrolling viewport: every layer is sized in % of the stage, so all stay aligned at
 * every zoom, and masks.js's toImage() (getBoundingClientRect of the image) stays exact.
 * "1:1" = one image pixel per device pixel (the image is the original file).
 *
 * Wheel (or pinch): zoom around the cursor. Keys (none while typing): + / = zoom in, - zoom out,
 * 0 fit, Z 1:1. Pan: drag with the middle button, Space + drag, or a plain drag when the image
 * is zoomed and masks are not being edited (masks.js owns left clicks and drags then); or the
 * viewport's scrollbars and arrow keys. 1-9, Enter, J/K stay app.js's; M . , U R A E masks.js's.
 * Without JavaScript the toolbar stays hidden and the image is shown fitted, as before.
 */
(function () {
  "use strict";

  var STEP = 1.25; // one key press or toolbar click
  var WHEEL_RATE = 0.002; // per wheel pixel: a 100 px notch zooms about 1.22×
  var MAX_DEVICE_ZOOM = 8; // at most 8 device pixels per image pixel…
  var MIN_FIT_ZOOM = 4; // …but always up to 4× the fitted size (small images)
  var PIXELATED_FROM = 2; // device pixels per image pixel

  var viewer = null;

  function isTyping(target) {
    var shared = window.EmoReview && window.EmoReview.isTyping; // defined in app.js
    return shared ? shared(target) : false;
  }

  function Viewer(viewport, toolbar) {
    this.viewport = viewport;
    this.stage = viewport.querySelector(".stage");
    this.img = this.stage.querySelector("img");
    this.toolbar = toolbar;
    this.level = toolbar.querySelector(".zoom-level");
    this.w = +this.img.getAttribute("width");
    this.h = +this.img.getAttribute("height");
    this.scale = null; // CSS px per image px; null = fitted to the viewport
  }

  Viewer.prototype.fitScale = function () {
    var rect = this.viewport.getBoundingClientRect();
    return Math.min(rect.width / this.w, rect.height / this.h);
  };

  Viewer.prototype.currentScale = function () {
    return this.scale === null ? this.fitScale() : this.scale;
  };

  Viewer.prototype.limits = function () {
    var fit = this.fitScale();
    var actual = 1 / (window.devicePixelRatio || 1);
    return {
      min: Math.min(fit, actual),
      max: Math.max(MAX_DEVICE_ZOOM * actual, MIN_FIT_ZOOM * fit),
      fit: fit,
    };
  };

  // Zoom to `scale` keeping the image point under (x, y) (viewport pixels) where it is.
  Viewer.prototype.zoomTo = function (scale, x, y) {
    var limits = this.limits();
    var old = this.currentScale();
    scale = Math.min(Math.max(scale, limits.min), limits.max);
    if (Math.abs(scale - limits.fit) < limits.fit * 0.01) return this.fit();
    var vp = this.viewport;
    var offset = this.stageOffset();
    var imageX = (vp.scrollLeft + x - offset.x) / old;
    var imageY = (vp.scrollTop + y - offset.y) / old;
    this.scale = scale;
    this.render();
    offset = this.stageOffset();
    vp.scrollLeft = imageX * scale + offset.x - x;
    vp.scrollTop = imageY * scale + offset.y - y;
  };

  // Where the stage's top-left sits in the viewport's scrolled content (centred when smaller).
  Viewer.prototype.stageOffset = function () {
    var vp = this.viewport.getBoundingClientRect();
    var st = this.stage.getBoundingClientRect();
    return {
      x: st.left - vp.left + this.viewport.scrollLeft,
      y: st.top - vp.top + this.viewport.scrollTop,
    };
  };

  // Around (x, y) in viewport pixels; the viewport's centre by default (keys, toolbar).
  // Zooming out stops at "fit": only 1:1 shows a small image smaller than its viewport.
  Viewer.prototype.zoomBy = function (factor, x, y) {
    if (x === undefined) {
      x = this.viewport.clientWidth / 2;
      y = this.viewport.clientHeight / 2;
    }
    var current = this.currentScale();
    var fit = this.fitScale();
    var scale = current * factor;
    if (factor < 1 && current >= fit && scale < fit) scale = fit;
    this.zoomTo(scale, x, y);
  };

  Viewer.prototype.fit = function () {
    this.scale = null;
    this.render();
    this.viewport.scrollLeft = 0;
    this.viewport.scrollTop = 0;
  };

  Viewer.prototype.actual = function () {
    var vp = this.viewport;
    this.zoomTo(1 / (window.devicePixelRatio || 1), vp.clientWidth / 2, vp.clientHeight / 2);
  };

  Viewer.prototype.render = function () {
    var zoomed = this.scale !== null;
    var scale = this.currentScale();
    var dpr = window.devicePixelRatio || 1;
    this.viewport.classList.toggle("zoomed", zoomed);
    // From 200% on image pixels show as squares, not a blur (just above 1:1 nearest-neighbour
    // would double every n-th pixel, which looks worse than smoothing).
    this.viewport.classList.toggle("pixelated", scale * dpr >= PIXELATED_FROM);
    this.stage.style.width = zoomed ? this.w * scale + "px" : "";
    this.stage.style.height = zoomed ? this.h * scale + "px" : "";
    // Click marks keep their on-screen size (styled in app.css from this variable).
    this.viewport.style.setProperty("--zoom-rel", String(scale / this.fitScale()));
    this.level.textContent = Math.round(scale * dpr * 100) + "%";
    this.viewport.dataset.zoom = String(scale);
  };

  // Panning ------------------------------------------------------------------------------

  Viewer.prototype.wantsPan = function (event) {
    if (!this.stage.contains(event.target)) return false; // the scrollbars keep their own drag
    if (event.button === 1) return true;
    if (event.button !== 0) return false;
    if (this.spaceHeld) return true;
    // A plain drag pans only where masks.js does not turn it into points and boxes.
    return this.scale !== null && !this.stage.classList.contains("mask-editing");
  };

  Viewer.prototype.bindPointer = function () {
    var self = this;
    var vp = this.viewport;
    var drag = null;
    // Capture phase on the viewport runs before masks.js's listeners on the stage.
    vp.addEventListener(
      "pointerdown",
      function (event) {
        if (!self.wantsPan(event)) return;
        event.preventDefault();
        event.stopPropagation();
        drag = { x: event.clientX, y: event.clientY, left: vp.scrollLeft, top: vp.scrollTop };
        vp.setPointerCapture(event.pointerId);
        vp.classList.add("panning");
      },
      true
    );
    vp.addEventListener("pointermove", function (event) {
      if (!drag) return;
      vp.scrollLeft = drag.left - (event.clientX - drag.x);
      vp.scrollTop = drag.top - (event.clientY - drag.y);
    });
    function end() {
      drag = null;
      vp.classList.remove("panning");
    }
    vp.addEventListener("pointerup", end);
    vp.addEventListener("pointercancel", end);
    // No autoscroll or paste on a middle press.
    vp.addEventListener("mousedown", function (event) {
      if (event.button === 1) event.preventDefault();
    });
    vp.addEventListener("auxclick", function (event) {
      if (event.button === 1) event.preventDefault();
    });
    vp.addEventListener("pointerenter", function () {
      self.hovered = true;
    });
    vp.addEventListener("pointerleave", function () {
      self.hovered = false;
    });
  };

  Viewer.prototype.bindWheel = function () {
    var self = this;
    var vp = this.viewport;
    vp.addEventListener(
      "wheel",
      function (event) {
        var delta = event.deltaY * (event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 400 : 1);
        if (!delta) return;
        // Wheeling down over a fitted image scrolls the page, as everywhere else.
        if (delta > 0 && self.currentScale() <= self.fitScale() * 1.001) return;
        event.preventDefault();
        var rect = vp.getBoundingClientRect();
        self.zoomBy(Math.exp(-delta * WHEEL_RATE), event.clientX - rect.left, event.clientY - rect.top);
      },
      { passive: false }
    );
  };

  Viewer.prototype.bindToolbar = function () {
    var self = this;
    this.toolbar.hidden = false;
    this.toolbar.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-zoom]");
      if (!button) return;
      var action = button.dataset.zoom;
      if (action === "in") self.zoomBy(STEP);
      else if (action === "out") self.zoomBy(1 / STEP);
      else if (action === "fit") self.fit();
      else if (action === "actual") self.actual();
    });
  };

  // Keys -----------------------------------------------------------------------------------

  var KEYS = {
    "+": function (v) { v.zoomBy(STEP); },
    "=": function (v) { v.zoomBy(STEP); },
    "-": function (v) { v.zoomBy(1 / STEP); },
    _: function (v) { v.zoomBy(1 / STEP); },
    0: function (v) { v.fit(); },
    z: function (v) { v.actual(); },
    Z: function (v) { v.actual(); },
  };

  // Space means "pan" only over the image; elsewhere it keeps scrolling the page or pressing.
  function spaceForViewer(event) {
    return event.key === " " && viewer && viewer.hovered && !isTyping(event.target);
  }

  document.addEventListener("keydown", function (event) {
    if (!viewer || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (spaceForViewer(event)) {
      event.preventDefault();
      viewer.spaceHeld = true;
      viewer.viewport.classList.add("pan-ready");
      return;
    }
    if (isTyping(event.target) || !KEYS.hasOwnProperty(event.key)) return;
    event.preventDefault();
    KEYS[event.key](viewer);
  });

  document.addEventListener("keyup", function (event) {
    if (!viewer || event.key !== " " || !viewer.spaceHeld) return;
    event.preventDefault();
    viewer.spaceHeld = false;
    viewer.viewport.classList.remove("pan-ready");
  });

  window.addEventListener("blur", function () {
    if (!viewer) return;
    viewer.spaceHeld = false;
    viewer.viewport.classList.remove("pan-ready");
  });

  function init() {
    var viewport = document.querySelector(".image-panel .viewport");
    var toolbar = document.querySelector(".image-panel .viewer-toolbar");
    if (!viewport || !toolbar || !viewport.querySelector(".stage img")) return;
    if (viewer && viewer.viewport === viewport) return;
    viewer = new Viewer(viewport, toolbar);
    viewer.bindPointer();
    viewer.bindWheel();
    viewer.bindToolbar();
    viewer.render();
    // The fitted size follows the window; a zoomed image keeps its zoom.
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        viewer.render();
      }).observe(viewport);
    }
    window.EmoReview = window.EmoReview || {};
    window.EmoReview.viewer = viewer;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  // An image panel swapped in by htmx gets a viewer of its own.
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.querySelector && (elt.matches(".image-panel") || elt.querySelector(".viewport"))) {
      init();
    }
  });
})();
