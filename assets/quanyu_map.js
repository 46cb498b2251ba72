/*
 * The big screen's map: MapLibre GL over vector tiles made by PostGIS.
 *
 * Dash owns the state (filters, visible layers, data versions) and calls
 * dash_clientside.quanyu.render with it; this file turns that state into tile URLs.
 * A layer whose URL changed (new filter or new data) is swapped: the new source is drawn
 * under the same paint rules and the old one removed only once the new tiles have loaded,
 * so a live update never blanks the map. Everything is served by our own server: no
 * glyphs, sprites or basemap are fetched unless a basemap URL is configured.
 */
(function () {
  "use strict";
  const state = { map: null, config: null, current: {}, seq: 0, visible: new Set(), pending: {} };

  function layerQuery(layer, filters, versions) {
    const q = new URLSearchParams();
    if (layer.filters.includes("window")) {
      q.set("window", filters.window || "30");
      if (filters.window === "custom" && filters.start && filters.end) {
        q.set("start", filters.start.slice(0, 10));
        q.set("end", filters.end.slice(0, 10));
      }
    }
    if (layer.filters.includes("category") && filters.major) q.set("major", filters.major);
    q.set("v", layer.depends_on.map((n) => (versions || {})[n] || 0).join("."));
    return q.toString();
  }

  function tileUrl(layer, query) {
    return `${window.location.origin}/tiles/${layer.id}/{z}/{x}/{y}.pbf?${query}`;
  }

  /* Pixel paint values (line widths, radii) scaled for the wall's size (quanyu_scale.js). */
  function scaled(spec) {
    return window.quanyuScalePaint ? window.quanyuScalePaint(spec) : spec;
  }

  function styleLayersOf(layerId) {
    return state.config.style.layers.filter((l) => l.source === layerId).map(scaled);
  }

  function nextLayerId(layerId) {
    const ids = state.config.layers.map((l) => l.id);
    for (let i = ids.indexOf(layerId) + 1; i < ids.length; i++) {
      const cur = state.current[ids[i]];
      if (cur) return cur.styleIds[0];
    }
    return undefined;
  }

  function addCopy(layer, query) {
    const srcId = `${layer.id}__${++state.seq}`;
    state.map.addSource(srcId, Object.assign({}, state.config.style.sources[layer.id], { tiles: [tileUrl(layer, query)] }));
    const before = nextLayerId(layer.id);
    const styleIds = styleLayersOf(layer.id).map((spec, i) => {
      const id = `${layer.id}-${i}__${state.seq}`;
      const layout = Object.assign({}, spec.layout || {}, { visibility: state.visible.has(layer.id) ? "visible" : "none" });
      state.map.addLayer(Object.assign({}, spec, { id, source: srcId, layout }), before);
      return id;
    });
    return { srcId, styleIds, query };
  }

  function removeCopy(copy) {
    const map = state.map;
    copy.styleIds.forEach((id) => map.getLayer(id) && map.removeLayer(id));
    // A source still loading tiles is dropped once the map is idle: removed mid-load,
    // MapLibre reports "There is no tile" for the answers still on their way.
    const drop = () => { if (map.getSource(copy.srcId)) map.removeSource(copy.srcId); };
    if (!map.getSource(copy.srcId) || map.isSourceLoaded(copy.srcId)) drop();
    else map.once("idle", drop);
  }

  function swap(layer, query) {
    const old = state.current[layer.id];
    if (old && old.query === query) return;
    if (state.pending[layer.id]) removeCopy(state.pending[layer.id]);
    const fresh = addCopy(layer, query);
    if (!old) {
      state.current[layer.id] = fresh;
      return;
    }
    state.pending[layer.id] = fresh;
    const done = () => {
      if (state.pending[layer.id] !== fresh) return;
      if (!state.map.isSourceLoaded(fresh.srcId)) return;
      state.map.off("sourcedata", done);
      delete state.pending[layer.id];
      removeCopy(state.current[layer.id]);
      state.current[layer.id] = fresh;
    };
    state.map.on("sourcedata", done);
  }

  function hatchImage() {
    const size = 16, c = document.createElement("canvas");
    c.width = c.height = size;
    const g = c.getContext("2d");
    g.strokeStyle = "rgba(255,214,10,0.95)";
    g.lineWidth = 2.5;
    g.beginPath();
    g.moveTo(0, size); g.lineTo(size, 0);
    g.moveTo(-size / 2, size / 2); g.lineTo(size / 2, -size / 2);
    g.moveTo(size / 2, size * 1.5); g.lineTo(size * 1.5, size / 2);
    g.stroke();
    return g.getImageData(0, 0, size, size);
  }

  function renderLegend() {
    const box = document.getElementById("legend");
    if (!box) return;
    box.innerHTML = "";
    state.config.layers.filter((l) => state.visible.has(l.id)).forEach((l) => {
      l.legend.forEach((item) => {
        const row = document.createElement("div");
        row.className = "legend-row";
        const sw = document.createElement("span");
        sw.className = `swatch ${item.shape}`;
        if (item.shape === "ramp") sw.style.background = `linear-gradient(90deg, ${item.color})`;
        else if (item.shape === "line" || item.shape === "dashed") sw.style.borderColor = item.color;
        else sw.style.background = item.color;
        const label = document.createElement("span");
        label.textContent = item.label;
        row.appendChild(sw); row.appendChild(label);
        box.appendChild(row);
      });
    });
  }

  function onClick(e) {
    const clickable = state.config.layers.filter((l) => l.clickable && state.visible.has(l.id) && state.current[l.id]);
    const ids = clickable.flatMap((l) => state.current[l.id].styleIds);
    const hits = ids.length ? state.map.queryRenderedFeatures(e.point, { layers: ids }) : [];
    if (hits.length && hits[0].properties.code && window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props("grid-click", { data: { code: hits[0].properties.code, t: Date.now() } });
    }
  }

  function init(config) {
    // Back on the big screen after another page (the menu navigates without a reload): the
    // old map's element is gone; drop it and the layers it held, or the new map would be
    // asked to place layers before ones it never had.
    if (state.map) state.map.remove();
    state.current = {};
    state.pending = {};
    state.config = config;
    const style = { version: 8, sources: {}, layers: [], glyphs: window.location.origin + config.style.glyphs };
    config.style.layers.filter((l) => !l.source || !config.style.sources[l.source] || config.style.sources[l.source].type !== "vector")
      .forEach((l) => {
        style.layers.push(l);
        if (l.source) style.sources[l.source] = config.style.sources[l.source];
      });
    const ui = window.quanyuScale ? window.quanyuScale() : 1;
    const map = new maplibregl.Map({
      container: "map", style, bounds: config.bounds,
      fitBoundsOptions: { padding: { top: 56 * ui, bottom: 24 * ui, right: 24 * ui, left: Math.round(window.innerWidth / 120 * 14) } },
      attributionControl: { compact: true, customAttribution: config.attribution || "" },
      dragRotate: false, pitchWithRotate: false, fadeDuration: 0, maxZoom: 17,
    });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "bottom-right");
    map.addControl(new maplibregl.ScaleControl({ unit: "metric", maxWidth: 100 * ui }), "bottom-left");
    map.on("click", onClick);
    map.on("mousemove", (e) => {
      const ids = state.config.layers.filter((l) => l.clickable && state.current[l.id]).flatMap((l) => state.current[l.id].styleIds);
      const hit = ids.length && state.map.queryRenderedFeatures(e.point, { layers: ids }).length;
      map.getCanvas().style.cursor = hit ? "pointer" : "";
    });
    state.map = map;
    state.ready = new Promise((resolve) => map.on("load", () => {
      map.addImage("hatch", hatchImage(), { pixelRatio: 2 });
      resolve();
    }));
    window.quanyuMap = map;
  }

  function apply(filters, visible, versions) {
    state.visible = new Set(visible || []);
    state.config.layers.forEach((layer) => {
      swap(layer, layerQuery(layer, filters, versions));
      const on = state.visible.has(layer.id) ? "visible" : "none";
      [state.current[layer.id], state.pending[layer.id]].forEach((copy) => {
        if (copy) copy.styleIds.forEach((id) => state.map.setLayoutProperty(id, "visibility", on));
      });
    });
    renderLegend();
    const el = document.getElementById("map");
    if (el) el.dataset.layers = Object.keys(state.current).join(",");
  }

  function render(config, windowValue, start, end, major, visible, versions) {
    if (!config || !document.getElementById("map")) return window.dash_clientside.no_update;
    if (!state.map || state.map.getContainer() !== document.getElementById("map")) init(config);
    const filters = { window: windowValue, start, end, major };
    state.ready.then(() => apply(filters, visible, versions));
    return { window: windowValue, major, visible, versions };
  }

  function tickClock() {
    const el = document.getElementById("clock");
    if (!el) return;
    const now = new Date();
    const fmt = new Intl.DateTimeFormat("zh-CN", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", weekday: "short",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
    });
    el.textContent = fmt.format(now);
  }
  setInterval(tickClock, 1000);

  /* For the browser test and for operators' support: features drawn per layer right now. */
  window.quanyuFeatureCounts = function () {
    const out = {};
    Object.entries(state.current).forEach(([id, copy]) => {
      out[id] = state.map.querySourceFeatures(copy.srcId, { sourceLayer: id }).length;
    });
    return out;
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside, { quanyu: { render } });
})();
