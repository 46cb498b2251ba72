/*
 * The drill-down (研判) map: MapLibre GL, kept alive while the leader clicks down.
 *
 * Dash sends one object per view (dash_clientside.drill.render): the children's outlines
 * already coloured by the chosen measure, the incidents of a grid as points, the colours
 * of the significant grids for the hotspot views (drawn over the grid vector tiles of our
 * own tile server), and an optional density picture. A click on a child, a hot grid or an
 * incident is pushed back into Dash (store "drill-click"), which turns it into a new URL.
 * Under it the county's reference layers (quanyu_basemap.js); names are shown in an HTML
 * tooltip; nothing is asked of another host.
 */
(function () {
  "use strict";
  const S = { map: null, ready: null, data: null, boundsKey: null };
  const CLEAR = "rgba(0,0,0,0)";
  const TIER = ["match", ["get", "tier"], "high", "#e8412c", "medium", "#f5b82e", "low", "#5fa8e8", "#9fb3c8"];

  function hotColor(hot) {
    const pairs = Object.entries(hot || {});
    if (!pairs.length) return CLEAR;
    return ["match", ["get", "code"]].concat(pairs.flat(), [CLEAR]);
  }

  function init(container, attribution) {
    const origin = window.location.origin;
    const map = new maplibregl.Map({
      container,
      style: {
        version: 8,
        // label glyphs made by our own server from the local CJK font (geo/glyphs.py)
        glyphs: `${origin}/glyphs/{fontstack}/{range}.pbf`,
        sources: {
          children: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
          points: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
          // one point per unit to hang its name on: a polygon source labels every part of a
          // unit made of several (a town split by a river read its name twice)
          labels: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
          hot: { type: "vector", tiles: [`${origin}/tiles/grid_risk/{z}/{x}/{y}.pbf`], minzoom: 0, maxzoom: 16 },
          forecast: { type: "vector", tiles: [`${origin}/tiles/forecast/{z}/{x}/{y}.pbf`], minzoom: 0, maxzoom: 16 },
        },
        layers: [
          { id: "background", type: "background", paint: { "background-color": "#0a1726" } },
          { id: "hot-fill", type: "fill", source: "hot", "source-layer": "grid_risk", layout: { visibility: "none" },
            paint: { "fill-color": CLEAR, "fill-opacity": 0.85 } },
          { id: "hot-line", type: "line", source: "hot", "source-layer": "grid_risk", layout: { visibility: "none" },
            paint: { "line-color": "#8aa4c4", "line-opacity": 0.25, "line-width": 0.5 } },
          { id: "children-fill", type: "fill", source: "children",
            paint: { "fill-color": ["get", "color"], "fill-opacity": 0.85 } },
          { id: "children-hover", type: "fill", source: "children", filter: ["==", ["get", "code"], ""],
            paint: { "fill-color": "#ffffff", "fill-opacity": 0.18 } },
          { id: "children-line", type: "line", source: "children",
            paint: { "line-color": "#dbe9ff", "line-opacity": 0.8, "line-width": 1.2 } },
          // each unit or grid named on the map, as a leader reads a paper map
          { id: "children-label", type: "symbol", source: "labels",
            layout: { "text-field": ["get", "name"], "text-font": ["Noto Sans CJK SC"], "text-size": 13,
                      "text-max-width": 8, "text-padding": 4 },
            paint: { "text-color": "#ffffff", "text-halo-color": "#061120", "text-halo-width": 1.4 } },
          { id: "forecast-fill", type: "fill", source: "forecast", "source-layer": "forecast", layout: { visibility: "none" },
            filter: ["==", ["get", "tier"], "high"], paint: { "fill-color": "#b46cff", "fill-opacity": 0.45 } },
          { id: "forecast-line", type: "line", source: "forecast", "source-layer": "forecast", layout: { visibility: "none" },
            paint: { "line-color": ["match", ["get", "tier"], "high", "#e3c8ff", "#b46cff"],
                     "line-width": ["match", ["get", "tier"], "high", 2.2, 1.2] } },
          { id: "points-circle", type: "circle", source: "points",
            paint: { "circle-color": TIER, "circle-radius": ["case", ["get", "selected"], 9, 5],
                     "circle-stroke-color": ["case", ["get", "selected"], "#ffffff", "#061120"],
                     "circle-stroke-width": ["case", ["get", "selected"], 3, 1] } },
        ],
      },
      attributionControl: { compact: true, customAttribution: attribution || "" },
      dragRotate: false, pitchWithRotate: false, fadeDuration: 0, maxZoom: 18,
    });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "bottom-right");
    map.addControl(new maplibregl.ScaleControl({ unit: "metric", maxWidth: 100 * (window.quanyuScale ? window.quanyuScale() : 1) }), "bottom-left");
    map.on("click", onClick);
    map.on("mousemove", onMove);
    map.on("mouseout", () => tip(null));
    S.map = map;
    S.boundsKey = null;
    S.ready = new Promise((resolve) => map.on("load", resolve));
    if (window.quanyuBasemap) window.quanyuBasemap(map).then(() => skipNamed(map));
    window.drillMap = map;
  }

  function hit(point) {
    const d = S.data || {};
    const layers = ["points-circle"].concat(d.mode !== "measure" ? ["hot-fill"] : [], ["children-fill"]);
    for (const id of layers) {
      const found = S.map.queryRenderedFeatures(point, { layers: [id] });
      if (id === "hot-fill") {
        const f = found.find((x) => (d.hot || {})[x.properties.code]);
        if (f) return { layer: id, props: f.properties };
      } else if (found.length) {
        return { layer: id, props: found[0].properties };
      }
    }
    return null;
  }

  function onClick(e) {
    const h = hit(e.point);
    if (!h || !window.dash_clientside || !window.dash_clientside.set_props) return;
    let data = null;
    if (h.layer === "points-circle") data = { incident: h.props.id };
    else if (h.layer === "hot-fill" && h.props.code !== (S.data || {}).selected) data = { code: h.props.code };
    else if (h.layer === "children-fill" && S.data.drillable && h.props.code) data = { code: h.props.code };
    if (data) window.dash_clientside.set_props("drill-click", { data: Object.assign(data, { t: Date.now() }) });
  }

  function tip(h, e) {
    const el = document.getElementById("drill-tip");
    if (!el) return;
    if (!h) { el.style.display = "none"; return; }
    const p = h.props;
    el.textContent = h.layer === "children-fill" ? `${p.name}：${p.value}` : (p.name || p.code || "");
    el.style.display = "block";
    el.style.left = `${e.point.x + 14}px`;
    el.style.top = `${e.point.y + 14}px`;
  }

  function onMove(e) {
    const h = hit(e.point);
    const clickable = h && (h.layer !== "children-fill" || (S.data && S.data.drillable));
    S.map.getCanvas().style.cursor = clickable ? "pointer" : "";
    S.map.setFilter("children-hover", ["==", ["get", "code"], h && h.layer === "children-fill" ? h.props.code : ""]);
    tip(h, e);
  }

  function setDensity(density) {
    const map = S.map;
    if (!density) {
      if (map.getLayer("density")) map.removeLayer("density");
      if (map.getSource("density")) map.removeSource("density");
      return;
    }
    if (map.getSource("density")) {
      map.getSource("density").updateImage({ url: density.url, coordinates: density.coordinates });
    } else {
      map.addSource("density", { type: "image", url: density.url, coordinates: density.coordinates });
      map.addLayer({ id: "density", type: "raster", source: "density", paint: { "raster-opacity": 0.85, "raster-fade-duration": 0 } },
        "children-line");
    }
  }

  /* The basemap's place names, less the names the page labels itself (d.named): one label
     per unit, and no 崆峒区 inside 崆峒区. Other places (landmarks, villages not drawn) stay. */
  function skipNamed(map) {
    const named = (S.data && S.data.named) || [];
    map.getStyle().layers.filter((l) => l.source === "street_names" && JSON.stringify(l.filter || []).includes("places"))
      .forEach((l) => {
        S.placeFilters = S.placeFilters || {};
        if (!(l.id in S.placeFilters)) S.placeFilters[l.id] = l.filter;
        map.setFilter(l.id, ["all", S.placeFilters[l.id], ["!", ["in", ["get", "name"], ["literal", named]]]]);
      });
  }

  /* Each unit's name at its point on surface (geo/analysis/drill_geo.py child_shapes), once. */
  function labelPoints(children) {
    return {
      type: "FeatureCollection",
      features: children.features.filter((f) => f.properties.lon != null).map((f) => ({
        type: "Feature",
        geometry: { type: "Point", coordinates: [f.properties.lon, f.properties.lat] },
        properties: { code: f.properties.code, name: f.properties.name },
      })),
    };
  }

  function apply(d) {
    const map = S.map;
    const hotMode = d.mode !== "measure";
    map.getSource("children").setData(d.children);
    map.getSource("labels").setData(labelPoints(d.children));
    map.getSource("points").setData(d.points);
    map.setPaintProperty("hot-fill", "fill-color", hotColor(d.hot));
    ["hot-fill", "hot-line"].forEach((id) => map.setLayoutProperty(id, "visibility", hotMode ? "visible" : "none"));
    map.setPaintProperty("children-fill", "fill-opacity", hotMode || d.density ? 0 : (d.level === "grid" ? 0.25 : 0.85));
    setDensity(d.density);
    const key = JSON.stringify(d.bounds);
    if (d.bounds && key !== S.boundsKey) {
      S.boundsKey = key;
      map.fitBounds(d.bounds, { padding: 40, duration: S.data ? 700 : 0, maxZoom: 16 });
    }
    S.data = d;
    skipNamed(map);
    map.getContainer().dataset.level = d.level;
    map.getContainer().dataset.mode = d.mode;
  }

  function render(d) {
    const container = document.getElementById("drill-map");
    if (!d || !container) return window.dash_clientside.no_update;
    if (!S.map || S.map.getContainer() !== container) init(container, d.attribution);
    S.ready.then(() => apply(d));
    return { level: d.level, mode: d.mode, t: Date.now() };
  }

  /* Links of the page (breadcrumb, children, hot grids, incidents) carry data-code or
     data-incident: a plain click updates the page in place; a middle or ctrl click opens
     the link's URL in a new tab as usual. */
  document.addEventListener("click", (e) => {
    const a = e.target.closest && e.target.closest("a[data-code], a[data-incident]");
    if (!a || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || !window.dash_clientside.set_props) return;
    e.preventDefault();
    const data = a.dataset.incident ? { incident: Number(a.dataset.incident) } : { code: a.dataset.code };
    window.dash_clientside.set_props("drill-click", { data: Object.assign(data, { t: Date.now() }) });
  });

  /* For the browser tests: what the map shows now. */
  window.drillMapState = function () {
    if (!S.map || !S.data || !S.map.loaded()) return null;
    return {
      level: S.data.level, mode: S.data.mode, bounds: S.data.bounds,
      children: S.data.children.features.length, points: S.data.points.features.length,
      drawn: S.map.queryRenderedFeatures({ layers: ["children-fill"] }).length,
      hot: Object.keys(S.data.hot || {}).length, density: !!S.data.density,
    };
  };

  /* For the browser tests: the screen position of a child (by code) or of an incident (by id). */
  window.drillPixelOf = function (what) {
    if (!S.map || !S.data) return null;
    const source = what.incident ? S.data.points : S.data.children;
    const f = source.features.find((x) => (what.incident ? x.properties.id === what.incident : x.properties.code === what.code));
    if (!f) return null;
    const [lon, lat] = f.geometry.type === "Point" ? f.geometry.coordinates : [f.properties.lon, f.properties.lat];
    const p = S.map.project([lon, lat]);
    const rect = S.map.getCanvas().getBoundingClientRect();
    return { x: p.x + rect.left, y: p.y + rect.top };
  };

  /* 下周预警 on or off (the checkbox beside the map modes): the forecast layer's tiles. */
  function forecast(value) {
    const on = (value || []).includes("forecast");
    const show = () => ["forecast-fill", "forecast-line"].forEach((id) => S.map.setLayoutProperty(id, "visibility", on ? "visible" : "none"));
    if (S.map && S.ready) S.ready.then(show);
    return on ? "seg forecast-on" : "seg";
  }

  /* For the browser tests: forecast grids drawn now. */
  window.drillForecastDrawn = function () {
    if (!S.map || !S.map.loaded() || S.map.getLayoutProperty("forecast-fill", "visibility") !== "visible") return 0;
    return S.map.queryRenderedFeatures({ layers: ["forecast-fill", "forecast-line"] }).length;
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside, { drill: { render, forecast } });
})();
