// The DES map (templates/review/des_map.html): every sample's DES in 2-D on a canvas.
// Points: uint32 n, uint16 x, uint16 y, int32 ids, then the external ids (UTF-8, one a line) from
// the binary endpoint (review/services/des_map_store.py).
// Colours: one uint8 code a point; the legend names the codes and its swatches' CSS gives the RGB.
// At overview zoom the points are binned (density: mean colour, opacity by log count); zoomed in,
// each point is drawn. Box and lasso select with the same even-odd test the server runs.
(function () {
  "use strict";

  const DENSITY_ABOVE = 20000; // visible points above which bins are drawn instead of points
  const BIN = 3; // density bin, CSS pixels
  const HOVER_PX = 12; // hit radius, CSS pixels: a point is found without pixel-hunting
  const PAD = 32; // CSS pixels between the fitted points and the canvas' edges
  const GRID = 128; // hover index: GRID x GRID buckets over 0..65535

  function init(root) {
    const canvas = root.querySelector("#des-canvas");
    const ctx = canvas.getContext("2d");
    const st = {
      n: 0, qx: null, qy: null, ids: null, names: [], codes: null, palette: [],
      scale: 1, ox: 0, oy: 0, // screen = (data - o) * scale (CSS pixels)
      fit: 1, maxX: 1, maxY: 1, tool: "pan", drag: null, polygon: null, index: null,
      drawn: 0,
    };

    function resize() {
      const dpr = window.devicePixelRatio || 1;
      canvas.width = Math.max(1, Math.round(canvas.clientWidth * dpr));
      canvas.height = Math.max(1, Math.round(canvas.clientHeight * dpr));
    }

    function fitView() {
      const w = canvas.clientWidth, h = canvas.clientHeight, pad = PAD;
      st.fit = Math.min((w - 2 * pad) / (st.maxX || 1), (h - 2 * pad) / (st.maxY || 1));
      st.scale = st.fit;
      st.ox = -(w - st.maxX * st.scale) / 2 / st.scale;
      st.oy = -(h - st.maxY * st.scale) / 2 / st.scale;
    }

    function readPalette() {
      const palette = [];
      root.ownerDocument.querySelectorAll("#des-legend [data-code]").forEach(function (li) {
        const swatch = li.querySelector(".des-swatch");
        const m = getComputedStyle(swatch).backgroundColor.match(/\d+/g) || [128, 128, 128];
        palette[Number(li.dataset.code)] = [Number(m[0]), Number(m[1]), Number(m[2])];
      });
      for (let i = 0; i < 256; i++) if (!palette[i]) palette[i] = [128, 128, 128];
      st.palette = palette;
    }

    function visibleCount(x0, y0, x1, y1) {
      let count = 0;
      for (let i = 0; i < st.n; i++) {
        const x = st.qx[i], y = st.qy[i];
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1) count++;
      }
      return count;
    }

    function draw() {
      const dpr = canvas.width / Math.max(1, canvas.clientWidth);
      const W = canvas.width, H = canvas.height;
      const img = ctx.createImageData(W, H);
      const px = img.data;
      const s = st.scale * dpr, ox = st.ox, oy = st.oy;
      const x1 = ox + W / s, y1 = oy + H / s;
      const visible = visibleCount(ox, oy, x1, y1);
      if (visible > DENSITY_ABOVE) drawDensity(px, W, H, s);
      else drawPoints(px, W, H, s, Math.round(pointSize(visible) * dpr));
      ctx.putImageData(img, 0, 0);
      drawPolygon(dpr);
      st.drawn++;
      canvas.dataset.drawn = String(st.drawn);
    }

    function pointSize(visible) { // CSS pixels: few points large enough to hover and see
      return visible <= 500 ? 10 : visible <= 5000 ? 5 : 3;
    }

    function drawDensity(px, W, H, s) {
      const bin = Math.max(1, Math.round(BIN * (W / canvas.clientWidth)));
      const bw = Math.ceil(W / bin), bh = Math.ceil(H / bin);
      const count = new Uint32Array(bw * bh), r = new Float64Array(bw * bh);
      const g = new Float64Array(bw * bh), b = new Float64Array(bw * bh);
      for (let i = 0; i < st.n; i++) {
        const sx = (st.qx[i] - st.ox) * s, sy = (st.qy[i] - st.oy) * s;
        if (sx < 0 || sy < 0 || sx >= W || sy >= H) continue;
        const k = Math.floor(sy / bin) * bw + Math.floor(sx / bin);
        const c = st.palette[st.codes[i]];
        count[k]++; r[k] += c[0]; g[k] += c[1]; b[k] += c[2];
      }
      let most = 1;
      for (let k = 0; k < count.length; k++) if (count[k] > most) most = count[k];
      const logMost = Math.log(1 + most);
      for (let k = 0; k < count.length; k++) {
        const c = count[k];
        if (!c) continue;
        const alpha = Math.round(255 * (0.3 + 0.7 * Math.log(1 + c) / logMost));
        const bx = (k % bw) * bin, by = Math.floor(k / bw) * bin;
        fill(px, W, H, bx, by, bin, [r[k] / c, g[k] / c, b[k] / c], alpha);
      }
    }

    function drawPoints(px, W, H, s, size) {
      const half = Math.floor(size / 2);
      for (let i = 0; i < st.n; i++) {
        const sx = Math.round((st.qx[i] - st.ox) * s) - half;
        const sy = Math.round((st.qy[i] - st.oy) * s) - half;
        if (sx < -size || sy < -size || sx >= W || sy >= H) continue;
        fill(px, W, H, sx, sy, size, st.palette[st.codes[i]], 255);
      }
    }

    function fill(px, W, H, x0, y0, size, rgb, alpha) {
      for (let y = Math.max(0, y0); y < Math.min(H, y0 + size); y++) {
        for (let x = Math.max(0, x0); x < Math.min(W, x0 + size); x++) {
          const o = (y * W + x) * 4;
          px[o] = rgb[0]; px[o + 1] = rgb[1]; px[o + 2] = rgb[2]; px[o + 3] = alpha;
        }
      }
    }

    function drawPolygon(dpr) {
      const poly = st.polygon;
      if (!poly || poly.length < 2) return;
      ctx.save();
      ctx.scale(dpr, dpr);
      ctx.beginPath();
      poly.forEach(function (p, i) {
        const sx = (p[0] - st.ox) * st.scale, sy = (p[1] - st.oy) * st.scale;
        if (i) ctx.lineTo(sx, sy); else ctx.moveTo(sx, sy);
      });
      ctx.closePath();
      ctx.fillStyle = "rgba(0, 90, 200, 0.08)";
      ctx.fill();
      ctx.strokeStyle = "#0050b4";
      ctx.lineWidth = 1.5;
      ctx.setLineDash([5, 3]);
      ctx.stroke();
      ctx.restore();
    }

    // The server's test (review/services/des_map_store.inside_polygon), operation for operation.
    function insidePolygon(poly) {
      const inside = new Uint8Array(st.n);
      let xs0 = Infinity, ys0 = Infinity, xs1 = -Infinity, ys1 = -Infinity;
      poly.forEach(function (p) {
        xs0 = Math.min(xs0, p[0]); ys0 = Math.min(ys0, p[1]);
        xs1 = Math.max(xs1, p[0]); ys1 = Math.max(ys1, p[1]);
      });
      for (let i = 0; i < st.n; i++) {
        const bx = st.qx[i], by = st.qy[i];
        if (bx < xs0 || bx > xs1 || by < ys0 || by > ys1) continue;
        let hit = false;
        for (let e = 0; e < poly.length; e++) {
          const a = poly[e], c = poly[(e + 1) % poly.length];
          if (a[1] === c[1]) continue;
          const crosses = (a[1] > by) !== (c[1] > by);
          const atX = a[0] + (by - a[1]) * (c[0] - a[0]) / (c[1] - a[1]);
          if (crosses && bx < atX) hit = !hit;
        }
        if (hit) inside[i] = 1;
      }
      return inside;
    }

    function toData(ev) {
      const rect = canvas.getBoundingClientRect();
      const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
      return [x / st.scale + st.ox, y / st.scale + st.oy, x, y];
    }

    function clampRound(v) { // the server takes -65535..131070: room around the points
      return Math.round(Math.min(131070, Math.max(-65535, v)) * 100) / 100;
    }

    function finishSelection() {
      const form = root.ownerDocument.getElementById("des-select");
      const text = root.ownerDocument.getElementById("des-selected");
      const button = root.ownerDocument.getElementById("des-review");
      let poly = (st.polygon || []).map(function (p) { return [clampRound(p[0]), clampRound(p[1])]; });
      if (poly.length > 400) poly = poly.filter(function (_, i) { return i % Math.ceil(poly.length / 400) === 0; });
      if (poly.length < 3) { st.polygon = null; draw(); return; }
      st.polygon = poly;
      const inside = insidePolygon(poly);
      let count = 0;
      for (let i = 0; i < st.n; i++) count += inside[i];
      form.querySelector("#des-polygon").value = poly.map(function (p) { return p[0] + "," + p[1]; }).join(" ");
      text.textContent = count + " selected.";
      button.textContent = "Review these " + count;
      button.disabled = count === 0;
      draw();
    }

    function buildIndex() {
      const cell = 65536 / GRID;
      const heads = new Int32Array(GRID * GRID).fill(-1), next = new Int32Array(st.n);
      for (let i = 0; i < st.n; i++) {
        const k = Math.floor(st.qy[i] / cell) * GRID + Math.floor(st.qx[i] / cell);
        next[i] = heads[k]; heads[k] = i;
      }
      st.index = { cell: cell, heads: heads, next: next };
    }

    function nearest(dx, dy) {
      const idx = st.index, r = HOVER_PX / st.scale;
      let best = -1, bestD = r * r;
      const gx0 = Math.max(0, Math.floor((dx - r) / idx.cell)), gx1 = Math.min(GRID - 1, Math.floor((dx + r) / idx.cell));
      const gy0 = Math.max(0, Math.floor((dy - r) / idx.cell)), gy1 = Math.min(GRID - 1, Math.floor((dy + r) / idx.cell));
      for (let gy = gy0; gy <= gy1; gy++) {
        for (let gx = gx0; gx <= gx1; gx++) {
          for (let i = idx.heads[gy * GRID + gx]; i >= 0; i = idx.next[i]) {
            const ex = st.qx[i] - dx, ey = st.qy[i] - dy, d = ex * ex + ey * ey;
            if (d <= bestD) { bestD = d; best = i; }
          }
        }
      }
      return best;
    }

    function sampleUrl(template, id) {
      return template.replace("/0/", "/" + id + "/"); // the URL reversed for sample 0
    }

    const tip = root.querySelector("#des-tip");
    const tipImg = root.querySelector("#des-tip-img");
    const tipText = root.querySelector("#des-tip-text");
    let hovered = -1;

    function hover(ev) {
      const d = toData(ev);
      const i = nearest(d[0], d[1]);
      hovered = i;
      if (i < 0) { tip.hidden = true; return; }
      const id = st.ids[i];
      const src = sampleUrl(root.dataset.imageUrl, id);
      if (tipImg.getAttribute("src") !== src) tipImg.setAttribute("src", src);
      const label = root.ownerDocument.querySelector('#des-legend [data-code="' + st.codes[i] + '"]');
      const name = st.names[i] || "#" + id; // the external id people know the sample by
      tipText.textContent = name + (label ? " · " + label.textContent.replace(/\s+\d+\s*$/, "").trim() : "");
      tip.hidden = false;
      tip.style.left = Math.min(d[2] + 14, canvas.clientWidth - 180) + "px";
      tip.style.top = Math.min(d[3] + 14, canvas.clientHeight - 150) + "px";
    }

    function onDown(ev) {
      if (ev.button !== 0) return;
      canvas.setPointerCapture(ev.pointerId);
      const d = toData(ev);
      st.drag = { x: ev.clientX, y: ev.clientY, start: d, moved: false };
      if (st.tool !== "pan") st.polygon = [[d[0], d[1]]];
      root.classList.add("dragging");
    }

    function onMove(ev) {
      const drag = st.drag;
      if (!drag) { if (st.index) hover(ev); return; }
      if (Math.abs(ev.clientX - drag.x) + Math.abs(ev.clientY - drag.y) > 3) drag.moved = true;
      const d = toData(ev);
      if (st.tool === "pan") {
        st.ox -= (ev.clientX - drag.x) / st.scale; st.oy -= (ev.clientY - drag.y) / st.scale;
        drag.x = ev.clientX; drag.y = ev.clientY;
      } else if (st.tool === "box") {
        const a = drag.start;
        st.polygon = [[a[0], a[1]], [d[0], a[1]], [d[0], d[1]], [a[0], d[1]]];
      } else {
        st.polygon.push([d[0], d[1]]);
      }
      tip.hidden = true;
      schedule();
    }

    function onUp(ev) {
      const drag = st.drag;
      st.drag = null;
      root.classList.remove("dragging");
      if (!drag) return;
      if (!drag.moved) {
        if (st.tool !== "pan") { st.polygon = null; schedule(); }
        hover(ev);
        if (hovered >= 0) window.location.href = sampleUrl(root.dataset.sampleUrl, st.ids[hovered]);
        return;
      }
      if (st.tool !== "pan") finishSelection();
    }

    function onWheel(ev) {
      ev.preventDefault();
      const d = toData(ev);
      const factor = Math.exp(-ev.deltaY * 0.0015);
      st.scale = Math.min(st.fit * 400, Math.max(st.fit * 0.5, st.scale * factor));
      st.ox = d[0] - d[2] / st.scale; st.oy = d[1] - d[3] / st.scale;
      schedule();
    }

    let pending = false;
    function schedule() {
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(function () { pending = false; draw(); });
    }

    function loadCodes() {
      const list = root.ownerDocument.querySelector("#des-legend [data-codes-url]");
      return fetch(list.dataset.codesUrl, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.arrayBuffer(); })
        .then(function (buf) {
          st.codes = new Uint8Array(buf);
          readPalette();
          canvas.dataset.by = list.dataset.by;
        });
    }

    function recolour(by) {
      const url = root.dataset.legendUrl + "?by=" + encodeURIComponent(by);
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) {
          root.ownerDocument.getElementById("des-legend").innerHTML = html;
          return loadCodes();
        })
        .then(function () {
          const u = new URL(window.location.href);
          u.searchParams.set("by", by);
          window.history.replaceState(null, "", u);
          draw();
        });
    }

    root.ownerDocument.querySelectorAll('input[name="des-tool"]').forEach(function (input) {
      input.addEventListener("change", function () {
        st.tool = input.value;
        root.classList.remove("tool-pan", "tool-box", "tool-lasso");
        root.classList.add("tool-" + st.tool);
      });
    });
    const colour = root.ownerDocument.querySelector("[data-des-colour]");
    colour.addEventListener("change", function () { recolour(colour.value); });
    root.ownerDocument.getElementById("des-reset").addEventListener("click", function () {
      fitView(); draw();
    });
    canvas.addEventListener("pointerdown", onDown);
    canvas.addEventListener("pointermove", onMove);
    canvas.addEventListener("pointerup", onUp);
    canvas.addEventListener("pointerleave", function () { if (!st.drag) tip.hidden = true; });
    canvas.addEventListener("wheel", onWheel, { passive: false });
    window.addEventListener("resize", function () { resize(); fitView(); draw(); });

    const points = fetch(root.dataset.pointsUrl, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.arrayBuffer(); })
      .then(function (buf) {
        const n = new DataView(buf).getUint32(0, true);
        st.n = n;
        st.qx = new Uint16Array(buf, 4, n);
        st.qy = new Uint16Array(buf, 4 + 2 * n, n);
        st.ids = new Int32Array(buf, 4 + 4 * n, n);
        st.names = new TextDecoder().decode(new Uint8Array(buf, 4 + 8 * n)).split("\n");
        st.maxX = 1; st.maxY = 1;
        for (let i = 0; i < n; i++) {
          if (st.qx[i] > st.maxX) st.maxX = st.qx[i];
          if (st.qy[i] > st.maxY) st.maxY = st.qy[i];
        }
        buildIndex();
      });
    Promise.all([points, loadCodes()]).then(function () {
      resize(); fitView(); draw();
      canvas.dataset.points = String(st.n);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("des-map");
    if (root) init(root);
  });
})();
