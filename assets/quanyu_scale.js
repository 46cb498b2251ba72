/*
 * One scale factor for everything on a page that is drawn in pixels (issue #16, 4K walls).
 *
 * HTML text is sized in rem and the root font size follows the viewport width (quanyu.css:
 * 16px at 1920 wide, 32px at 3840), so the page keeps its proportions on any wall. Three
 * things ignore rem and would stay at their 1080p pixel sizes on a 3840x2160 wall: plotly
 * charts (fonts, margins, marker sizes are pixels in the figure), MapLibre's paint rules
 * (line widths, circle and heatmap radii) and MapLibre's controls (the scale bar's width is
 * computed in pixels). This file gives them the same factor as the root font size:
 *
 *   window.quanyuScale()          root font size / 16, never below 1 (a laptop keeps the
 *                                 designed pixel sizes rather than shrinking charts);
 *   --ui-scale                    the same factor as a CSS variable, for sizes CSS cannot
 *                                 express in rem;
 *   Plotly.react                  wrapped once, so every dcc.Graph of every page (including
 *                                 charts added later, by any page) is drawn with its fonts,
 *                                 margins, marker sizes and line widths multiplied; Dash's
 *                                 figure itself is never modified;
 *   window.quanyuScalePaint(spec) a MapLibre style layer with its pixel paint values scaled.
 *
 * On a resize that changes the factor, every chart is redrawn from its unscaled figure.
 */
(function () {
  "use strict";
  const BASE_ROOT_PX = 16;
  const PLOTLY_DEFAULT_FONT = 12;
  const PLOTLY_DEFAULT_HOVER_FONT = 13;
  const MARGIN_KEYS = ["l", "r", "t", "b", "pad"];

  function scale() {
    const root = parseFloat(window.getComputedStyle(document.documentElement).fontSize) || BASE_ROOT_PX;
    return Math.max(1, root / BASE_ROOT_PX);
  }

  function setCssVariable() {
    document.documentElement.style.setProperty("--ui-scale", String(scale()));
  }

  /* Is `key` a size in pixels, given the key of the object holding it? Font sizes, marker
     sizes and line widths are; a histogram's xbins.size or a bar's width are data units. */
  function isPixels(key, parent) {
    if (key === "ticklen" || key === "tickwidth" || key === "borderwidth") return true;
    if (key === "size") return /font$/i.test(parent || "") || parent === "marker";
    if (key === "width") return parent === "line";
    return false;
  }

  /* A copy of a figure part with every pixel size multiplied by s (see isPixels) and the
     margins scaled. Arrays of values (x, y, values) are kept as they are, not copied. */
  function scaleValue(value, s, key, parent) {
    if (Array.isArray(value)) {
      if (isPixels(key, parent)) return value.map((v) => (typeof v === "number" ? v * s : v));
      if (value.length && typeof value[0] === "object" && value[0] !== null) return value.map((v) => scaleValue(v, s, key, parent));
      return value;
    }
    if (value === null || typeof value !== "object") {
      return typeof value === "number" && isPixels(key, parent) ? value * s : value;
    }
    const out = {};
    Object.keys(value).forEach((k) => {
      if (k === "margin" && value[k] && typeof value[k] === "object") {
        out[k] = Object.assign({}, value[k]);
        MARGIN_KEYS.forEach((m) => {
          if (typeof out[k][m] === "number") out[k][m] *= s;
        });
      } else {
        out[k] = scaleValue(value[k], s, k, key);
      }
    });
    return out;
  }

  function scaleLayout(layout, s) {
    const out = scaleValue(layout || {}, s);
    out.font = Object.assign({}, out.font);
    if (typeof (layout && layout.font && layout.font.size) !== "number") out.font.size = PLOTLY_DEFAULT_FONT * s;
    out.hoverlabel = Object.assign({}, out.hoverlabel);
    out.hoverlabel.font = Object.assign({}, out.hoverlabel.font);
    if (typeof out.hoverlabel.font.size !== "number") out.hoverlabel.font.size = PLOTLY_DEFAULT_HOVER_FONT * s;
    if (!layout || !layout.margin) out.margin = { l: 80 * s, r: 80 * s, t: 100 * s, b: 80 * s };
    return out;
  }

  function scaleFigure(figure, s) {
    return Object.assign({}, figure, {
      data: (figure.data || []).map((trace) => scaleValue(trace, s)),
      layout: scaleLayout(figure.layout, s),
    });
  }

  function wrapPlotly(plotly) {
    if (!plotly || plotly.__quanyuScaled) return plotly;
    const react = plotly.react;
    function scaledReact(gd, dataOrFigure, layout, config) {
      const figure = Array.isArray(dataOrFigure) ? { data: dataOrFigure, layout, config } : dataOrFigure || {};
      const element = typeof gd === "string" ? document.getElementById(gd) : gd;
      const s = scale();
      if (element) {
        element.__quanyuFigure = figure;
        element.__quanyuScale = s;
        element.dataset.uiScale = String(s);
      }
      return react.call(plotly, gd, s === 1 ? figure : scaleFigure(figure, s));
    }
    let target = plotly;
    try {
      plotly.react = scaledReact;
    } catch (e) {
      /* a read-only export: fall through to the wrapper object */
    }
    if (plotly.react !== scaledReact) {
      target = Object.create(plotly);
      Object.defineProperty(target, "react", { value: scaledReact });
    }
    Object.defineProperty(target, "__quanyuScaled", { value: true });
    return target;
  }

  /* Plotly may load before or after this file (Dash loads it eagerly with the component
     libraries): wrap what is there, and whatever is assigned later. */
  let plotly = wrapPlotly(window.Plotly);
  Object.defineProperty(window, "Plotly", {
    configurable: true,
    get: () => plotly,
    set: (value) => {
      plotly = wrapPlotly(value);
    },
  });

  function redrawCharts() {
    const s = scale();
    document.querySelectorAll(".js-plotly-plot").forEach((gd) => {
      if (gd.__quanyuFigure && gd.__quanyuScale !== s && window.Plotly) window.Plotly.react(gd, gd.__quanyuFigure);
    });
  }

  /* MapLibre paint values in pixels. A zoom-dependent value must stay a top-level
     interpolate/step, so its outputs are scaled; any other expression is multiplied. */
  const PAINT_PIXELS = new Set([
    "line-width", "line-gap-width", "line-offset", "circle-radius", "circle-stroke-width",
    "heatmap-radius", "fill-outline-width", "text-size", "text-halo-width", "icon-size",
  ]);

  function scaleExpression(value, s) {
    if (typeof value === "number") return value * s;
    if (!Array.isArray(value)) return value;
    if (value[0] === "interpolate") {
      return value.map((v, i) => (i >= 4 && i % 2 === 0 ? scaleExpression(v, s) : v));
    }
    if (value[0] === "step") {
      return value.map((v, i) => (i === 2 || (i >= 4 && i % 2 === 0) ? scaleExpression(v, s) : v));
    }
    return ["*", s, value];
  }

  function scalePaint(spec, s) {
    s = s || scale();
    if (s === 1) return spec;
    const out = Object.assign({}, spec);
    ["paint", "layout"].forEach((part) => {
      if (!spec[part]) return;
      out[part] = Object.assign({}, spec[part]);
      Object.keys(out[part]).forEach((k) => {
        if (PAINT_PIXELS.has(k)) out[part][k] = scaleExpression(out[part][k], s);
      });
    });
    return out;
  }

  window.quanyuScale = scale;
  window.quanyuScalePaint = scalePaint;
  setCssVariable();
  window.addEventListener("resize", () => {
    setCssVariable();
    redrawCharts();
  });
})();
