// layerspeed report: draws the figures of report.html as SVG from the JSON in #report-data.
// Plain JavaScript, no libraries, nothing loaded: the page works offline, from disk.
// Figure types: "bars" (dC/db per neuron), "points" (median, band and book per layer),
// "bands" (speed against epoch, median line and band per layer, with a layer toggle) and
// "line" (a curve with marked points). A layer has the same colour in every figure.
(function () {
  "use strict";

  // The SVG namespace is a name that createElementNS needs; nothing is fetched from it.
  var SVG_NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var tip = document.getElementById("tooltip");
  var css = window.getComputedStyle(document.documentElement);

  function layerColor(l) {
    return css.getPropertyValue("--layer-" + (l % 10)).trim() || "#555";
  }

  // ---- small helpers ---------------------------------------------------------------------

  function node(name, attrs, parent) {
    var e = document.createElementNS(SVG_NS, name);
    for (var k in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    }
    if (parent) parent.appendChild(e);
    return e;
  }

  function label(parent, x, y, str, attrs) {
    var t = node("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = str; // never innerHTML: strings from the results stay text
    return t;
  }

  function isNum(v) {
    return typeof v === "number" && isFinite(v);
  }

  function fmt(v) {
    if (!isNum(v)) return "\u2013";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2).replace("e+", "e");
    return String(Number(v.toPrecision(3)));
  }

  var SUPERSCRIPT = { "-": "\u207b", "0": "\u2070", "1": "\u00b9", "2": "\u00b2", "3": "\u00b3",
    "4": "\u2074", "5": "\u2075", "6": "\u2076", "7": "\u2077", "8": "\u2078", "9": "\u2079" };

  function powerOfTen(e) {
    if (e === 0) return "1";
    if (e === 1) return "10";
    return "10" + String(e).split("").map(function (c) { return SUPERSCRIPT[c]; }).join("");
  }

  function showTip(evt, str) {
    tip.textContent = str;
    tip.hidden = false;
    var x = evt.clientX + 14;
    var y = evt.clientY + 14;
    var r = tip.getBoundingClientRect();
    if (x + r.width > window.innerWidth - 8) x = evt.clientX - r.width - 14;
    if (y + r.height > window.innerHeight - 8) y = evt.clientY - r.height - 14;
    tip.style.left = Math.max(4, x) + "px";
    tip.style.top = Math.max(4, y) + "px";
  }

  function tipAt(elem, str) {
    var r = elem.getBoundingClientRect();
    showTip({ clientX: r.left + r.width / 2, clientY: r.top }, str);
  }

  function hideTip() {
    tip.hidden = true;
  }

  function hoverable(elem, str) {
    elem.setAttribute("tabindex", "0");
    elem.setAttribute("aria-label", str);
    elem.addEventListener("mouseenter", function (evt) { showTip(evt, str); });
    elem.addEventListener("mousemove", function (evt) { showTip(evt, str); });
    elem.addEventListener("mouseleave", hideTip);
    elem.addEventListener("focus", function () { tipAt(elem, str); });
    elem.addEventListener("blur", hideTip);
  }

  // ---- scales and ticks ------------------------------------------------------------------

  function scale(d0, d1, r0, r1, log) {
    var t = log ? Math.log10 : function (v) { return v; };
    var a = t(d0);
    var b = t(d1);
    var f = function (v) { return r0 + ((t(v) - a) / (b - a)) * (r1 - r0); };
    f.invert = function (px) {
      var u = a + ((px - r0) / (r1 - r0)) * (b - a);
      return log ? Math.pow(10, u) : u;
    };
    f.log = log;
    f.domain = [d0, d1];
    return f;
  }

  function niceStep(span, count) {
    var raw = span / Math.max(1, count);
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return (m >= 5 ? 10 : m >= 2 ? 5 : m >= 1 ? 2 : 1) * p;
  }

  function linearDomain(lo, hi, count) {
    if (lo === hi) { lo -= 1; hi += 1; }
    var step = niceStep(hi - lo, count);
    return [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step];
  }

  function linearTicks(d, count) {
    var step = niceStep(d[1] - d[0], count);
    var out = [];
    for (var v = Math.ceil(d[0] / step - 1e-9) * step; v <= d[1] + step * 1e-9; v += step) {
      out.push({ v: Number(v.toPrecision(12)), major: true });
    }
    return out.map(function (t) { t.text = fmt(t.v); return t; });
  }

  function logDomain(values) {
    var pos = values.filter(function (v) { return isNum(v) && v > 0; });
    if (!pos.length) return [0.1, 1];
    var lo = Math.floor(Math.log10(Math.min.apply(null, pos)));
    var hi = Math.ceil(Math.log10(Math.max.apply(null, pos)));
    if (hi === lo) hi += 1;
    return [Math.pow(10, lo), Math.pow(10, hi)];
  }

  function logTicks(d) {
    var e0 = Math.round(Math.log10(d[0]));
    var e1 = Math.round(Math.log10(d[1]));
    var every = Math.ceil((e1 - e0 + 1) / 9); // at most about nine labelled decades
    var out = [];
    for (var e = e0; e <= e1; e++) {
      out.push({ v: Math.pow(10, e), major: true,
                 text: (e - e0) % every === 0 ? powerOfTen(e) : "" });
      if (e < e1 && e1 - e0 <= 6) {
        for (var m = 2; m <= 9; m++) out.push({ v: m * Math.pow(10, e), major: false, text: "" });
      }
    }
    return out;
  }

  // ---- an axes frame ---------------------------------------------------------------------

  // o: width, height, xd, yd ([lo, hi]), xlog, ylog, xcats (labels of categories 0..n-1),
  // xlabel, ylabel, title. Returns the scales, the plot group and the plot's box.
  function axes(svg, o) {
    var m = { l: 64, r: 16, t: o.title ? 30 : 14, b: 46 };
    var box = { x0: m.l, x1: o.width - m.r, y0: m.t, y1: o.height - m.b };
    var x = o.xcats
      ? scale(-0.5, o.xcats.length - 0.5, box.x0, box.x1, false)
      : scale(o.xd[0], o.xd[1], box.x0, box.x1, o.xlog);
    var y = scale(o.yd[0], o.yd[1], box.y1, box.y0, o.ylog);
    var grid = node("g", { class: "grid" }, svg);
    var ax = node("g", { class: "axis" }, svg);
    var yt = o.ylog ? logTicks(o.yd) : linearTicks(o.yd, 5);
    yt.forEach(function (t) {
      var py = y(t.v);
      if (t.major) node("line", { x1: box.x0, x2: box.x1, y1: py, y2: py }, grid);
      node("line", { x1: box.x0 - (t.major ? 5 : 3), x2: box.x0, y1: py, y2: py }, ax);
      if (t.text) {
        label(ax, box.x0 - 8, py + 4, t.text, { "text-anchor": "end", class: "tick" });
      }
    });
    var xt;
    if (o.xcats) {
      xt = o.xcats.map(function (c, i) { return { v: i, major: true, text: c }; });
    } else {
      xt = o.xlog ? logTicks(o.xd) : linearTicks(o.xd, Math.max(3, Math.round((box.x1 - box.x0) / 70)));
      // Epochs and steps are whole numbers: no tick at epoch 1.5.
      var whole = xt.filter(function (t) { return Number.isInteger(t.v); });
      if (!o.xlog && Number.isInteger(o.xd[0]) && Number.isInteger(o.xd[1]) && whole.length >= 2) {
        xt = whole;
      }
    }
    xt.forEach(function (t) {
      var px = x(t.v);
      if (!o.xcats && t.major) node("line", { x1: px, x2: px, y1: box.y0, y2: box.y1 }, grid);
      node("line", { x1: px, x2: px, y1: box.y1, y2: box.y1 + (t.major ? 5 : 3) }, ax);
      if (t.text) label(ax, px, box.y1 + 18, t.text, { "text-anchor": "middle", class: "tick" });
    });
    node("line", { x1: box.x0, x2: box.x0, y1: box.y0, y2: box.y1 }, ax);
    node("line", { x1: box.x0, x2: box.x1, y1: box.y1, y2: box.y1 }, ax);
    if (o.xlabel) {
      label(svg, (box.x0 + box.x1) / 2, o.height - 8, o.xlabel, { "text-anchor": "middle", class: "label" });
    }
    if (o.ylabel) {
      var cy = (box.y0 + box.y1) / 2;
      label(svg, 14, cy, o.ylabel, { "text-anchor": "middle", class: "label",
                                     transform: "rotate(-90 14 " + cy + ")" });
    }
    if (o.title) label(svg, box.x0, 18, o.title, { class: "title" });
    var plot = node("g", { class: "plot" }, svg);
    return { x: x, y: y, plot: plot, box: box };
  }

  function newSvg(fig, width, height, name) {
    var svg = node("svg", { class: "chart", width: width, height: height,
                            viewBox: "0 0 " + width + " " + height, role: "img" }, fig);
    svg.setAttribute("aria-label", name);
    return svg;
  }

  // A path through the points whose x and y are numbers, broken where a y is missing.
  function linePath(xs, ys, sx, sy) {
    var d = "";
    var pen = false;
    for (var i = 0; i < xs.length; i++) {
      var ok = isNum(ys[i]) && (!sy.log || ys[i] > 0);
      if (!ok) { pen = false; continue; }
      d += (pen ? "L" : "M") + sx(xs[i]).toFixed(1) + "," + sy(ys[i]).toFixed(1);
      pen = true;
    }
    return d;
  }

  // The area between two curves, one closed piece per stretch where both are defined.
  function areaPath(xs, lo, hi, sx, sy) {
    var d = "";
    var run = [];
    function flush() {
      if (run.length > 1) {
        d += "M" + run.map(function (i) { return sx(xs[i]).toFixed(1) + "," + sy(hi[i]).toFixed(1); }).join("L");
        d += "L" + run.slice().reverse().map(function (i) { return sx(xs[i]).toFixed(1) + "," + sy(lo[i]).toFixed(1); }).join("L") + "Z";
      }
      run = [];
    }
    for (var i = 0; i < xs.length; i++) {
      var ok = isNum(lo[i]) && isNum(hi[i]) && (!sy.log || (lo[i] > 0 && hi[i] > 0));
      if (ok) run.push(i); else flush();
    }
    flush();
    return d;
  }

  function legend(fig, items, toggle) {
    var box = document.createElement("div");
    box.className = "legend";
    items.forEach(function (item) {
      var b = document.createElement(toggle ? "button" : "span");
      if (toggle) {
        b.type = "button";
        b.setAttribute("aria-pressed", "true");
        b.title = "hide or show " + item.name;
        b.addEventListener("click", function () {
          var on = b.getAttribute("aria-pressed") !== "true";
          b.setAttribute("aria-pressed", on ? "true" : "false");
          fig.querySelectorAll('[data-layer="' + item.layer + '"]').forEach(function (g) {
            g.style.display = on ? "" : "none";
          });
        });
      } else {
        b.className = "key";
      }
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = item.color || layerColor(item.layer);
      b.appendChild(sw);
      b.appendChild(document.createTextNode(item.name));
      box.appendChild(b);
    });
    if (toggle) {
      var hint = document.createElement("span");
      hint.className = "hint";
      hint.textContent = "click a layer to hide or show it";
      box.appendChild(hint);
    }
    fig.appendChild(box);
  }

  // ---- the figure types ------------------------------------------------------------------

  function drawBars(fig, spec) {
    var groups = spec.groups;
    var n = Math.max.apply(null, groups.map(function (g) { return g.values.length; }));
    var all = [0];
    groups.forEach(function (g) { all = all.concat(g.values.filter(isNum)); });
    legend(fig, groups.map(function (g) { return { name: g.name, layer: g.layer }; }), false);
    var W = 760;
    var H = 340;
    var svg = newSvg(fig, W, H, "bar chart of " + spec.ylabel);
    var a = axes(svg, {
      width: W, height: H, yd: linearDomain(Math.min.apply(null, all), Math.max.apply(null, all), 6),
      xcats: Array.from({ length: n }, function (_, j) { return String(j + 1); }),
      xlabel: spec.xlabel, ylabel: spec.ylabel,
    });
    var slot = (a.box.x1 - a.box.x0) / n;
    var bw = (slot * 0.72) / groups.length;
    node("line", { x1: a.box.x0, x2: a.box.x1, y1: a.y(0), y2: a.y(0), stroke: "#8a93a3" }, a.plot);
    groups.forEach(function (g, k) {
      var layer = node("g", { "data-layer": g.layer }, a.plot);
      g.values.forEach(function (v, j) {
        if (!isNum(v)) return;
        var x0 = a.x(j) - (bw * groups.length) / 2 + k * bw;
        var y0 = Math.min(a.y(0), a.y(v));
        var rect = node("rect", {
          class: "bar", x: x0.toFixed(1), y: y0.toFixed(1), width: Math.max(1, bw - 2).toFixed(1),
          height: Math.max(1, Math.abs(a.y(v) - a.y(0))).toFixed(1), fill: layerColor(g.layer),
          "data-value": v,
        }, layer);
        hoverable(rect, g.name + ", neuron " + (j + 1) + "\n\u2202C/\u2202b = " + fmt(v));
      });
    });
  }

  function drawPoints(fig, spec) {
    var all = [];
    spec.panels.forEach(function (p) {
      p.points.forEach(function (q) { all.push(q.median, q.low, q.high, q.book); });
    });
    var yd = logDomain(all);
    var keys = document.createElement("div");
    keys.className = "legend";
    [["\u25cf", "median over seeds"], ["\u2503", "spread over seeds"], ["\u25c7", "the book"]].forEach(function (k) {
      var s = document.createElement("span");
      s.className = "key";
      s.textContent = k[0] + " " + k[1];
      keys.appendChild(s);
    });
    fig.appendChild(keys);
    spec.panels.forEach(function (p) {
      var W = 320;
      var H = 300;
      var svg = newSvg(fig, W, H, p.title);
      var a = axes(svg, {
        width: W, height: H, yd: yd, ylog: true, title: p.title,
        xcats: p.points.map(function (_, l) { return String(l + 1); }),
        xlabel: spec.xlabel, ylabel: spec.ylabel,
      });
      var xs = p.points.map(function (_, l) { return l; });
      node("path", { d: linePath(xs, p.points.map(function (q) { return q.median; }), a.x, a.y),
                     fill: "none", stroke: "#b8bfca", "stroke-width": 1.5 }, a.plot);
      p.points.forEach(function (q, l) {
        var g = node("g", { "data-layer": q.layer }, a.plot);
        var c = layerColor(q.layer);
        var px = a.x(l) - 6;
        if (isNum(q.low) && isNum(q.high) && q.low > 0) {
          node("line", { x1: px, x2: px, y1: a.y(q.low), y2: a.y(q.high), stroke: c, "stroke-width": 4,
                         "stroke-linecap": "round", opacity: 0.55 }, g);
        }
        var text = p.title + ", hidden layer " + (l + 1) + "\nmedian " + fmt(q.median) +
          " (spread " + fmt(q.low) + " \u2013 " + fmt(q.high) + ")\nbook " + fmt(q.book);
        if (isNum(q.median) && q.median > 0) {
          hoverable(node("circle", { class: "point", cx: px, cy: a.y(q.median), r: 5.5, fill: c,
                                     stroke: "#fff", "stroke-width": 1.5 }, g), text);
        }
        if (isNum(q.book) && q.book > 0) {
          var bx = a.x(l) + 8;
          var by = a.y(q.book);
          hoverable(node("path", { class: "point", d: "M" + bx + "," + (by - 6) + "l6,6l-6,6l-6,-6z",
                                   fill: "#fff", stroke: "#1d2330", "stroke-width": 1.5 }, g), text);
        }
      });
    });
  }

  function drawBands(fig, spec) {
    var all = [];
    var xall = [];
    spec.panels.forEach(function (p) {
      xall = xall.concat(p.x);
      p.series.forEach(function (s) {
        all = all.concat(s.median, s.low || [], s.high || []);
        (s.runs || []).forEach(function (r) { all = all.concat(r); });
      });
    });
    var yd = spec.log ? logDomain(all) : linearDomain(Math.min.apply(null, all.filter(isNum)),
                                                      Math.max.apply(null, all.filter(isNum)), 5);
    var names = spec.legend || spec.panels[0].series.map(function (s) { return s.name; });
    legend(fig, names.map(function (nm, l) { return { name: nm, layer: l }; }), !!spec.toggle);
    var wide = spec.wide || spec.panels.length === 1;
    var W = wide ? 980 : spec.panels.length >= 3 ? 320 : 480;
    var H = wide ? 380 : 300;
    spec.panels.forEach(function (p) {
      var svg = newSvg(fig, W, H, p.title || spec.ylabel);
      var xd = [Math.min.apply(null, p.x), Math.max.apply(null, p.x)];
      if (xd[0] === xd[1]) xd[1] = xd[0] + 1;
      var a = axes(svg, { width: W, height: H, xd: xd, yd: yd, ylog: !!spec.log, title: p.title,
                          xlabel: spec.xlabel, ylabel: spec.ylabel });
      p.series.forEach(function (s) {
        var g = node("g", { "data-layer": s.layer }, a.plot);
        var c = layerColor(s.layer);
        if (s.low && s.high) {
          node("path", { d: areaPath(p.x, s.low, s.high, a.x, a.y), fill: c, opacity: 0.16 }, g);
        }
        (s.runs || []).forEach(function (r) {
          node("path", { d: linePath(p.x, r, a.x, a.y), fill: "none", stroke: c, "stroke-width": 1,
                         opacity: 0.45 }, g);
        });
        node("path", { d: linePath(p.x, s.median, a.x, a.y), fill: "none", stroke: c,
                       "stroke-width": 2.2, "stroke-linejoin": "round" }, g);
      });
      crosshair(svg, a, p.x, function (i) {
        var lines = [(p.title ? p.title + "\n" : "") + spec.xlabel + " " + fmt(p.x[i])];
        p.series.forEach(function (s) {
          var shown = fig.querySelector('[data-layer="' + s.layer + '"]');
          if (shown && shown.style.display === "none") return;
          var band = s.low && s.high && s.low.length > i
            ? " (" + fmt(s.low[i]) + " \u2013 " + fmt(s.high[i]) + ")" : "";
          lines.push(s.name + ": " + fmt(s.median[i]) + band);
        });
        return lines.join("\n");
      });
    });
  }

  // Hovering the plot marks the nearest x and shows the text describe(i) returns for it.
  function crosshair(svg, a, xs, describe) {
    var guide = node("line", { class: "guide", y1: a.box.y0, y2: a.box.y1, visibility: "hidden" }, svg);
    var hit = node("rect", { x: a.box.x0, y: a.box.y0, width: a.box.x1 - a.box.x0,
                             height: a.box.y1 - a.box.y0, fill: "transparent" }, svg);
    hit.addEventListener("mousemove", function (evt) {
      var pt = svg.createSVGPoint();
      pt.x = evt.clientX;
      pt.y = evt.clientY;
      var local = pt.matrixTransform(svg.getScreenCTM().inverse());
      var xv = a.x.invert(local.x);
      var best = 0;
      for (var i = 1; i < xs.length; i++) {
        if (Math.abs(xs[i] - xv) < Math.abs(xs[best] - xv)) best = i;
      }
      var gx = a.x(xs[best]);
      guide.setAttribute("x1", gx);
      guide.setAttribute("x2", gx);
      guide.setAttribute("visibility", "visible");
      showTip(evt, describe(best));
    });
    hit.addEventListener("mouseleave", function () {
      guide.setAttribute("visibility", "hidden");
      hideTip();
    });
  }

  function drawLine(fig, spec) {
    var xs = [];
    var ys = [];
    spec.series.forEach(function (s) { xs = xs.concat(s.x); ys = ys.concat(s.y.filter(isNum)); });
    (spec.marks || []).forEach(function (m) { ys.push(m.y); });
    var lo = isNum(spec.ymin) ? spec.ymin : Math.min.apply(null, ys);
    var W = 520;
    var H = 320;
    var svg = newSvg(fig, W, H, spec.ylabel);
    var a = axes(svg, {
      width: W, height: H, xd: [Math.min.apply(null, xs), Math.max.apply(null, xs)],
      yd: linearDomain(lo, Math.max.apply(null, ys) * 1.08, 5), xlabel: spec.xlabel, ylabel: spec.ylabel,
    });
    spec.series.forEach(function (s) {
      var g = node("g", { "data-layer": s.color }, a.plot);
      node("path", { d: linePath(s.x, s.y, a.x, a.y), fill: "none", stroke: layerColor(s.color),
                     "stroke-width": 2.2 }, g);
    });
    (spec.marks || []).forEach(function (m, k) {
      var px = a.x(m.x);
      var py = a.y(m.y);
      var dot = node("circle", { class: "point", cx: px, cy: py, r: m.open ? 6 : 4.5,
                                 fill: m.open ? "none" : "#1d2330", stroke: "#1d2330",
                                 "stroke-width": 1.5 }, a.plot);
      hoverable(dot, m.label + "\n(" + fmt(m.x) + ", " + fmt(m.y) + ")");
      var right = px < (a.box.x0 + a.box.x1) / 2;
      label(a.plot, px + (right ? 10 : -10), py - 10 - 14 * k, m.label,
            { "text-anchor": right ? "start" : "end" });
    });
    var s0 = spec.series[0];
    crosshair(svg, a, s0.x, function (i) {
      return spec.xlabel + " = " + fmt(s0.x[i]) + "\n" + s0.name + " = " + fmt(s0.y[i]);
    });
    legend(fig, spec.series.map(function (s) { return { name: s.name, layer: s.color }; }), false);
  }

  var DRAW = { bars: drawBars, points: drawPoints, bands: drawBands, line: drawLine };

  document.querySelectorAll("[data-figure]").forEach(function (fig) {
    var spec = data.figures[fig.getAttribute("data-figure")];
    try {
      DRAW[spec.type](fig, spec);
    } catch (err) {
      console.error("layerspeed report: figure " + fig.getAttribute("data-figure") + ": " + err);
      var p = document.createElement("p");
      p.className = "note";
      p.textContent = "This figure could not be drawn: " + err;
      fig.appendChild(p);
    }
  });
})();
