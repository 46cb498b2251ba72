/*
 * 网格规划 workbench map: MapLibre GL with a minimal editor of our own.
 *
 * The browser only sketches: click to add vertices (draw a grid, draw a split line),
 * drag the vertices of the selected grid (edit), click grids to select them (Shift for
 * several), pick households (move: click a point, Shift+drag a box, then click the target
 * grid). "应用" sends the sketch to the server, which snaps it onto the neighbours,
 * checks it and answers with new map data; nothing is decided here. Everything comes
 * from our own server (GeoJSON in Dash stores): no tiles, glyphs or sprites are fetched.
 */
(function () {
  "use strict";
  const S = { map: null, key: null, data: null, mode: "select", sketch: [], edit: null, drag: null, selected: [], ready: false,
    hh: [], target: null, box: null };
  const EMPTY = { type: "FeatureCollection", features: [] };
  const SOURCES = ["community", "neighbours", "grids", "defects", "layers", "pieces", "households", "proposal", "diff", "sketch", "vertices"];

  function fc(x) { return x || EMPTY; }

  function setData(id, value) {
    const src = S.map && S.map.getSource(id);
    if (src) src.setData(fc(value));
  }

  function pushSelected() {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props("pl-selected", { data: S.selected.slice() });
    }
    S.map.setFilter("grids-selected", ["in", ["get", "code"], ["literal", S.selected]]);
    startEdit();
  }

  function setProps(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props) window.dash_clientside.set_props(id, props);
  }

  // Households chosen for a move (ids) and the grid they go to; Dash holds them in pl-hh / pl-move-target.
  function pushHouseholds() {
    setProps("pl-hh", { data: S.hh.slice() });
    const byId = {};
    ((S.data && S.data.households) || EMPTY).features.forEach((f) => { byId[f.properties.id] = f.properties; });
    const names = S.hh.slice(0, 4).map((id) => (byId[id] ? byId[id].label : "#" + id)).join("；");
    setProps("pl-hh-info", { children: "已选 " + S.hh.length + " 户" + (names ? "：" + names + (S.hh.length > 4 ? "…" : "") : "") });
    if (S.map) {
      S.map.setFilter("households-selected", ["in", ["get", "id"], ["literal", S.hh]]);
      S.map.setFilter("grids-target", ["==", ["get", "code"], S.target || ""]);
    }
  }

  function toggleHouseholds(ids, add) {
    ids.forEach((id) => {
      const at = S.hh.indexOf(id);
      if (at < 0) S.hh.push(id);
      else if (!add) S.hh.splice(at, 1);
    });
    pushHouseholds();
  }

  function gridFeature(code) {
    return ((S.data && S.data.grids) || EMPTY).features.find((f) => f.properties.code === code);
  }

  function startEdit() {
    S.edit = null;
    if (S.mode === "edit" && S.selected.length === 1) {
      const f = gridFeature(S.selected[0]);
      if (f) {
        const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
        S.edit = { code: S.selected[0], coords: JSON.parse(JSON.stringify(polys)) };
      }
    }
    drawSketch();
  }

  function drawSketch() {
    const feats = [], verts = [];
    if (S.edit) {
      feats.push({ type: "Feature", properties: {}, geometry: { type: "MultiPolygon", coordinates: S.edit.coords } });
      S.edit.coords.forEach((poly, p) => poly.forEach((ring, r) => ring.slice(0, -1).forEach((c, i) =>
        verts.push({ type: "Feature", properties: { p, r, i }, geometry: { type: "Point", coordinates: c } }))));
    }
    if (S.sketch.length) {
      const closed = S.mode === "draw" && S.sketch.length > 2 ? S.sketch.concat([S.sketch[0]]) : S.sketch;
      if (closed.length > 1) feats.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: closed } });
      S.sketch.forEach((c, i) => verts.push({ type: "Feature", properties: { i }, geometry: { type: "Point", coordinates: c } }));
    }
    setData("sketch", { type: "FeatureCollection", features: feats });
    setData("vertices", { type: "FeatureCollection", features: verts });
  }

  function addLayers(map) {
    SOURCES.forEach((id) => map.addSource(id, { type: "geojson", data: EMPTY }));
    const dev = ["interpolate", ["linear"], ["get", "deviation"], -0.6, "#3f7ff5", -0.3, "#3fa9f5", 0, "#38d39f", 0.3, "#f5b82e", 0.6, "#e8412c"];
    map.addLayer({ id: "community-fill", type: "fill", source: "community", paint: { "fill-color": "#0e2a47", "fill-opacity": 0.6 } });
    map.addLayer({ id: "neighbours-line", type: "line", source: "neighbours", paint: { "line-color": "#5f7d9c", "line-width": 1, "line-dasharray": [2, 2] } });
    map.addLayer({ id: "grids-fill", type: "fill", source: "grids", paint: { "fill-color": dev, "fill-opacity": 0.45 } });
    map.addLayer({ id: "grids-line", type: "line", source: "grids", paint: { "line-color": "#cfe3ff", "line-width": 1.2 } });
    // each grid named on the map by its short code and its household count, as in the list beside it
    map.addLayer({ id: "grids-label", type: "symbol", source: "grids",
      layout: { "text-field": ["concat", ["slice", ["get", "code"], 12], "\n", ["to-string", ["get", "households"]], "户"],
                "text-font": ["Noto Sans CJK SC"], "text-size": 12, "text-padding": 2 },
      paint: { "text-color": "#ffffff", "text-halo-color": "#081627", "text-halo-width": 1.4 } });
    map.addLayer({ id: "grids-selected", type: "line", source: "grids", filter: ["in", ["get", "code"], ["literal", []]],
      paint: { "line-color": "#ffffff", "line-width": 3.5 } });
    map.addLayer({ id: "grids-target", type: "line", source: "grids", filter: ["==", ["get", "code"], ""],
      paint: { "line-color": "#00ffb3", "line-width": 3.5, "line-dasharray": [2, 1] } });
    map.addLayer({ id: "layers-line", type: "line", source: "layers", paint: { "line-color": "#c78bff", "line-width": 2, "line-dasharray": [3, 1] } });
    map.addLayer({ id: "pieces-fill", type: "fill", source: "pieces", paint: {
      "fill-color": ["case", ["get", "change"], "#c78bff", "#7a5a9c"], "fill-opacity": ["case", ["get", "change"], 0.55, 0.3] } });
    map.addLayer({ id: "pieces-line", type: "line", source: "pieces", paint: { "line-color": "#e9d2ff", "line-width": 1.5 } });
    map.addLayer({ id: "community-line", type: "line", source: "community", paint: { "line-color": "#5fd3ff", "line-width": 2.5 } });
    map.addLayer({ id: "defects-fill", type: "fill", source: "defects", paint: {
      "fill-color": ["match", ["get", "kind"], "gap", "#ff3b3b", "sliver", "#ff7a3b", "overlap", "#ffd400", "#ff00c8"], "fill-opacity": 0.8 } });
    map.addLayer({ id: "defects-line", type: "line", source: "defects", paint: { "line-color": "#ffffff", "line-width": 1.5 } });
    map.addLayer({ id: "proposal-line", type: "line", source: "proposal", paint: { "line-color": "#00ffb3", "line-width": 2.5 } });
    map.addLayer({ id: "diff-fill", type: "fill", source: "diff", filter: ["!=", ["get", "change"], "old"], paint: {
      "fill-color": ["match", ["get", "change"], "added", "#38d39f", "removed", "#e8412c", "#f5b82e"], "fill-opacity": 0.75 } });
    map.addLayer({ id: "diff-old", type: "line", source: "diff", filter: ["==", ["get", "change"], "old"],
      paint: { "line-color": "#ffffff", "line-width": 1.5, "line-dasharray": [1, 1] } });
    map.addLayer({ id: "households", type: "circle", source: "households", paint: {
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 13, 1, 15, 2, 18, 5], "circle-color": "#ffe08a",
      "circle-opacity": 0.85, "circle-stroke-color": "#3b2a00", "circle-stroke-width": 0.5 } });
    map.addLayer({ id: "households-selected", type: "circle", source: "households", filter: ["in", ["get", "id"], ["literal", []]],
      paint: { "circle-radius": 7, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": "#00ffb3", "circle-stroke-width": 2.5 } });
    map.addLayer({ id: "sketch-line", type: "line", source: "sketch", paint: { "line-color": "#ff00c8", "line-width": 2.5 } });
    map.addLayer({ id: "vertices", type: "circle", source: "vertices", paint: {
      "circle-radius": 5, "circle-color": "#ff00c8", "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
  }

  function onClick(e) {
    if (S.mode === "draw" || S.mode === "split") {
      S.sketch.push([e.lngLat.lng, e.lngLat.lat]);
      drawSketch();
      return;
    }
    if (S.mode === "edit" && S.edit) return;
    if (S.mode === "move") {
      if (S.boxed) { S.boxed = false; return; }  // the click ending a box selection
      const p = e.point;
      const near = S.map.queryRenderedFeatures([[p.x - 5, p.y - 5], [p.x + 5, p.y + 5]], { layers: ["households"] });
      if (near.length) {
        toggleHouseholds([near[0].properties.id], false);
        return;
      }
      const grid = S.map.queryRenderedFeatures(e.point, { layers: ["grids-fill"] })[0];
      S.target = grid ? grid.properties.code : null;
      if (S.target) setProps("pl-move-target", { value: S.target });
      pushHouseholds();
      return;
    }
    const hit = S.map.queryRenderedFeatures(e.point, { layers: ["grids-fill"] })[0];
    if (!hit) { S.selected = []; pushSelected(); return; }
    const code = hit.properties.code;
    if (e.originalEvent.shiftKey) {
      S.selected = S.selected.includes(code) ? S.selected.filter((c) => c !== code) : S.selected.concat([code]);
    } else {
      S.selected = [code];
    }
    pushSelected();
  }

  function wireEditing(map) {
    map.on("mousedown", "vertices", (e) => {
      if (S.mode !== "edit" || !S.edit) return;
      e.preventDefault();
      const p = e.features[0].properties;
      S.drag = { p: p.p, r: p.r, i: p.i };
      map.dragPan.disable();
    });
    map.on("mousemove", (e) => {
      if (!S.drag || !S.edit) return;
      const ring = S.edit.coords[S.drag.p][S.drag.r];
      ring[S.drag.i] = [e.lngLat.lng, e.lngLat.lat];
      if (S.drag.i === 0) ring[ring.length - 1] = ring[0];
      drawSketch();
    });
    map.on("mouseup", () => {
      if (S.drag) { S.drag = null; map.dragPan.enable(); }
    });
    // Move mode: Shift+drag draws a box; the households inside it join the selection.
    map.on("mousedown", (e) => {
      if (S.mode !== "move" || !e.originalEvent.shiftKey) return;
      e.preventDefault();
      S.box = { start: e.point, end: e.point };
      map.dragPan.disable();
    });
    map.on("mousemove", (e) => {
      if (!S.box) return;
      S.box.end = e.point;
      const a = S.box.start, b = e.point;
      const ring = [[a.x, a.y], [b.x, a.y], [b.x, b.y], [a.x, b.y], [a.x, a.y]].map((xy) => map.unproject(xy).toArray());
      setData("sketch", { type: "FeatureCollection", features: [{ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: ring } }] });
    });
    map.on("mouseup", () => {
      if (!S.box) return;
      const { start, end } = S.box;
      S.box = null;
      map.dragPan.enable();
      drawSketch();
      if (Math.abs(start.x - end.x) < 3 && Math.abs(start.y - end.y) < 3) return;  // a shift-click, not a box
      S.boxed = true;
      const hits = map.queryRenderedFeatures([[Math.min(start.x, end.x), Math.min(start.y, end.y)],
        [Math.max(start.x, end.x), Math.max(start.y, end.y)]], { layers: ["households"] });
      toggleHouseholds([...new Set(hits.map((f) => f.properties.id))], true);
    });
  }

  function ensureMap(data) {
    if (S.map) return;
    const el = document.getElementById("planner-map");
    if (!el || !window.maplibregl) return;
    S.map = new maplibregl.Map({
      container: el, attributionControl: false, doubleClickZoom: false,
      // glyphs for the grids' labels, made by our own server from the local CJK font (geo/glyphs.py)
      style: { version: 8, glyphs: `${window.location.origin}/glyphs/{fontstack}/{range}.pbf`, sources: {},
               layers: [{ id: "bg", type: "background", paint: { "background-color": "#081627" } }] },
      bounds: data.bounds, fitBoundsOptions: { padding: 30 },
      // Shift belongs to the planner: Shift+click adds a grid to the selection and Shift+drag
      // picks households. MapLibre's box zoom would take every Shift+mousedown first, so a
      // person could never select a second grid (the scroll wheel and buttons still zoom).
      boxZoom: false,
    });
    S.map.on("load", () => {
      addLayers(S.map);
      if (window.quanyuBasemap) window.quanyuBasemap(S.map);
      wireEditing(S.map);
      S.ready = true;
      apply();
    });
    S.map.on("click", onClick);
    document.addEventListener("click", (e) => {
      const t = e.target.closest && e.target.closest(".pl-fly");
      if (t) fly(t.dataset);
    });
  }

  function fly(ds) {
    if (!S.map) return;
    if (ds.code) {
      const f = gridFeature(ds.code);
      if (f) {
        S.selected = [ds.code];
        pushSelected();
        S.map.fitBounds(bbox(f.geometry), { padding: 80, duration: 600 });
      }
    } else if (ds.lon) {
      S.map.flyTo({ center: [parseFloat(ds.lon), parseFloat(ds.lat)], zoom: Math.max(S.map.getZoom(), 16), duration: 600 });
    }
  }

  function bbox(geom) {
    const b = [Infinity, Infinity, -Infinity, -Infinity];
    (function walk(c) {
      if (typeof c[0] === "number") { b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]); b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]); }
      else c.forEach(walk);
    })(geom.coordinates);
    return [[b[0], b[1]], [b[2], b[3]]];
  }

  let pending = null;
  function apply() {
    if (!S.ready || !pending) return;
    const { data, proposal, diff, mode } = pending;
    if (S.data !== data) { S.hh = []; S.target = null; }  // after an edit (or another community) the choice starts over
    S.data = data;
    setData("community", { type: "Feature", properties: {}, geometry: data.community });
    ["neighbours", "grids", "defects", "layers", "pieces", "households"].forEach((k) => setData(k, data[k]));
    setData("proposal", proposal && proposal.geojson);
    setData("diff", diff);
    if (S.key !== data.key) {
      if (S.key !== null) S.map.fitBounds(data.bounds, { padding: 30, duration: 0 });
      S.key = data.key;
      // the address says which community is open, so that it can be bookmarked and sent
      const url = new URL(window.location.href);
      if (url.searchParams.get("community") !== data.key) {
        url.searchParams.set("community", data.key);
        window.history.replaceState(window.history.state, "", url.toString());
      }
      S.selected = [];
    }
    const codes = new Set(data.grids.features.map((f) => f.properties.code));
    S.selected = S.selected.filter((c) => codes.has(c));
    if (mode !== S.mode) { S.mode = mode; S.sketch = []; }
    S.map.getCanvas().style.cursor = S.mode === "select" ? "" : "crosshair";
    document.body.classList.toggle("pl-moving", S.mode === "move");
    pushSelected();
    pushHouseholds();
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    planner: {
      render: function (data, proposal, diff, mode) {
        if (!data) return window.dash_clientside.no_update;
        pending = { data, proposal, diff, mode: mode || "select" };
        ensureMap(data);
        apply();
        return { grids: data.grids.features.length, defects: data.defects.features.length, mode: pending.mode };
      },
      finish: function () {
        if (!S.map) return window.dash_clientside.no_update;
        const c = S.map.getCenter();
        const base = { zoom: S.map.getZoom(), lat: c.lat, t: Date.now() };
        let out = null;
        if (S.mode === "draw" && S.sketch.length > 2) {
          out = Object.assign(base, { op: "draw", coords: S.sketch.concat([S.sketch[0]]) });
        } else if (S.mode === "split" && S.sketch.length > 1) {
          out = Object.assign(base, { op: "split", code: S.selected[0] || null, coords: S.sketch });
        } else if (S.mode === "edit" && S.edit) {
          out = Object.assign(base, { op: "reshape", code: S.edit.code, coords: S.edit.coords });
        }
        S.sketch = [];
        drawSketch();
        return out || window.dash_clientside.no_update;
      },
    },
  });

  // The map itself, for reading what it shows (tests find a place's pixel and the features drawn there).
  window.plannerMap = function () { return S.ready ? S.map : null; };
})();
