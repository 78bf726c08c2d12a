// Small SVG line charts for the training curves: epochs on x, one or more series on y.
// Drawn by hand (no library) so the page works offline and every label can be translated.
"use strict";

window.RESNETLAB_CHARTS = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 360, H = 220;
  const M = { left: 52, right: 12, top: 12, bottom: 36 };

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten).
  function ticks(lo, hi, count) {
    if (hi === lo) {
      const pad = Math.abs(lo) * 0.1 || 1;
      lo -= pad;
      hi += pad;
    }
    const raw = (hi - lo) / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw);
    const first = Math.floor(lo / step) * step;
    const out = [];
    for (let v = first; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    if (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
    return out;
  }

  function finite(values) {
    return values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  }

  // spec: {title, x: [epochs], series: [{name, values, className}], yMin, yMax,
  //        yFormat(v), xLabel, summary}
  function lineChart(spec) {
    const all = spec.series.flatMap((s) => finite(s.values));
    const xs = finite(spec.x);
    const svg = el("svg", {
      viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart",
      "aria-label": spec.summary, preserveAspectRatio: "xMidYMid meet",
    });
    svg.appendChild(el("title", {}, spec.summary));
    if (!all.length || !xs.length) return svg;

    let yLo = spec.yMin !== undefined ? spec.yMin : Math.min(...all);
    let yHi = spec.yMax !== undefined ? spec.yMax : Math.max(...all);
    const yTicks = ticks(yLo, yHi, 4);
    yLo = yTicks[0];
    yHi = yTicks[yTicks.length - 1];
    let xLo = Math.min(...xs), xHi = Math.max(...xs);
    let xTicks;
    if (xLo === xHi) { // one epoch: one tick, the point in the middle
      xTicks = [xLo];
      xLo -= 1;
      xHi += 1;
    } else {
      xTicks = ticks(xLo, xHi, Math.min(6, xs.length)).filter(
        (v) => v >= xLo && v <= xHi && Number.isInteger(v));
    }

    const px = (x) => M.left + ((x - xLo) / (xHi - xLo)) * (W - M.left - M.right);
    const py = (y) => H - M.bottom - ((y - yLo) / (yHi - yLo)) * (H - M.top - M.bottom);

    const grid = el("g", { class: "grid" });
    for (const t of yTicks) {
      grid.appendChild(el("line", { x1: M.left, x2: W - M.right, y1: py(t), y2: py(t) }));
      grid.appendChild(el("text", { x: M.left - 6, y: py(t) + 4, "text-anchor": "end",
        class: "tick" }, spec.yFormat(t)));
    }
    for (const t of xTicks) {
      grid.appendChild(el("text", { x: px(t), y: H - M.bottom + 16, "text-anchor": "middle",
        class: "tick" }, String(t)));
    }
    grid.appendChild(el("line", { class: "axis", x1: M.left, x2: W - M.right,
      y1: H - M.bottom, y2: H - M.bottom }));
    grid.appendChild(el("text", { x: (M.left + W - M.right) / 2, y: H - 4,
      "text-anchor": "middle", class: "axis-label" }, spec.xLabel));
    svg.appendChild(grid);

    spec.series.forEach((s, i) => {
      const g = el("g", { class: `series series-${i}` });
      let path = "";
      let pen = false;
      s.values.forEach((v, k) => {
        const x = spec.x[k];
        if (v === null || v === undefined || !Number.isFinite(v)) { pen = false; return; }
        path += `${pen ? "L" : "M"}${px(x).toFixed(1)},${py(v).toFixed(1)}`;
        pen = true;
        if (s.values.length <= 40) {
          g.appendChild(el("circle", { cx: px(x).toFixed(1), cy: py(v).toFixed(1), r: 3 }));
        }
      });
      if (path) g.insertBefore(el("path", { d: path }), g.firstChild);
      svg.appendChild(g);
    });
    return svg;
  }

  return { lineChart };
})();
