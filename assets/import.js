/*
 * The 数据导入 page's preview map: the geometries the importer read (WGS84, at most a few
 * hundred), drawn over nothing (offline: no basemap, glyphs or sprites) and fitted to
 * the jurisdiction (its towns dashed), so a planner sees at once whether a file landed where
 * it should.
 */
(function () {
  "use strict";
  const S = { map: null, ready: null };
  const EMPTY = { type: "FeatureCollection", features: [] };

  function init(container) {
    const map = new maplibregl.Map({
      container,
      style: {
        version: 8,
        sources: { sample: { type: "geojson", data: EMPTY }, outline: { type: "geojson", data: EMPTY } },
        layers: [
          { id: "background", type: "background", paint: { "background-color": "#0a1726" } },
          { id: "outline-line", type: "line", source: "outline", paint: { "line-color": "#8aa4c4", "line-width": 1, "line-dasharray": [2, 2] } },
          { id: "sample-fill", type: "fill", source: "sample", filter: ["==", ["geometry-type"], "Polygon"],
            paint: { "fill-color": "#5fa8e8", "fill-opacity": 0.35 } },
          { id: "sample-line", type: "line", source: "sample", filter: ["!=", ["geometry-type"], "Point"],
            paint: { "line-color": "#dbe9ff", "line-width": 1 } },
          { id: "sample-point", type: "circle", source: "sample", filter: ["==", ["geometry-type"], "Point"],
            paint: { "circle-color": "#f5b82e", "circle-radius": 4, "circle-stroke-color": "#061120", "circle-stroke-width": 1 } },
        ],
      },
      attributionControl: false, dragRotate: false, pitchWithRotate: false, fadeDuration: 0, maxZoom: 18,
    });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "bottom-right");
    S.map = map;
    S.ready = new Promise((resolve) => map.on("load", resolve));
    window.importMap = map;
  }

  function extent(fc) {
    let b = null;
    const visit = (c) => {
      if (typeof c[0] === "number") {
        b = b ? [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])] : [c[0], c[1], c[0], c[1]];
      } else c.forEach(visit);
    };
    fc.features.forEach((f) => f.geometry && visit(f.geometry.coordinates));
    return b;
  }

  function render(data) {
    const container = document.getElementById("imp-map");
    if (!container || !window.maplibregl) return window.dash_clientside.no_update;
    if (!S.map || S.map.getContainer() !== container) init(container);
    const fc = (data && data.sample) || EMPTY;
    S.ready.then(() => {
      S.map.getSource("sample").setData(fc);
      S.map.getSource("outline").setData((data && data.outline) || EMPTY);
      // The jurisdiction's extent when there is one (a point far outside it is a problem listed
      // below, not a reason to zoom out to the whole country), else the features'.
      const j = data && data.bounds;
      const b = j && data.layer !== "boundary" ? [j[0][0], j[0][1], j[1][0], j[1][1]] : extent(fc);
      if (b) S.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 30, duration: 0, maxZoom: 16 });
      window.importMapFeatures = fc.features.length;
    });
    return { features: fc.features.length, t: Date.now() };
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, { quanyuImport: { render } });
})();
