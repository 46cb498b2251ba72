/*
 * The intake page's two maps (geo/web/intake_page.py): the form's map, where a click
 * picks the incident's position (pushed into Dash as the store in-click), and the detail
 * map, which shows the open incident. Both draw the grids by risk tier and the
 * administrative boundaries from our own tile server; markers are HTML, so no glyphs,
 * sprites or other hosts are ever requested.
 */
(function () {
  "use strict";
  const maps = {};

  function absolute(style) {
    const copy = JSON.parse(JSON.stringify(style));
    if (copy.glyphs && copy.glyphs.startsWith("/")) copy.glyphs = window.location.origin + copy.glyphs;
    Object.values(copy.sources).forEach((src) => {
      if (src.tiles) src.tiles = src.tiles.map((u) => (u.startsWith("/") ? window.location.origin + u : u));
    });
    return copy;
  }

  function ensure(divId, config, onClick) {
    const el = document.getElementById(divId);
    if (!el || !config || typeof maplibregl === "undefined") return null;
    let entry = maps[divId];
    if (entry && entry.el === el) return entry;
    if (entry) entry.map.remove();
    const map = new maplibregl.Map({
      container: el, style: absolute(config.style), bounds: config.bounds, fitBoundsOptions: { padding: 20 },
      attributionControl: false, dragRotate: false, pitchWithRotate: false,
    });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    if (onClick) {
      map.getCanvas().style.cursor = "crosshair";
      map.on("click", (e) => onClick(e.lngLat));
    }
    entry = { map, el, marker: null };
    maps[divId] = entry;
    return entry;
  }

  function mark(entry, point, zoom) {
    if (!point) {
      if (entry.marker) entry.marker.remove();
      entry.marker = null;
      return;
    }
    if (!entry.marker) {
      const dot = document.createElement("div");
      dot.className = "in-marker";
      entry.marker = new maplibregl.Marker({ element: dot }).setLngLat([point.lon, point.lat]).addTo(entry.map);
    } else {
      entry.marker.setLngLat([point.lon, point.lat]);
    }
    entry.marker.getElement().dataset.tier = point.tier || "";
    if (zoom) entry.map.jumpTo({ center: [point.lon, point.lat], zoom: Math.max(entry.map.getZoom(), zoom) });
  }

  function refresh(entry) {
    // a pane shown after being hidden: the canvas must learn its size again
    window.requestAnimationFrame(() => entry.map.resize());
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.intake = {
    formMap: function (config, point) {
        const entry = ensure("in-map", config, (ll) =>
          window.dash_clientside.set_props("in-click", { data: { lon: ll.lng, lat: ll.lat, at: Date.now() } }));
        if (!entry) return window.dash_clientside.no_update;
        refresh(entry);
        mark(entry, point, 0);
        return { marker: !!point };
      },
    detailMap: function (config, point) {
        const entry = ensure("in-detail-map", config, null);
      if (entry) entry.el.style.visibility = point ? "visible" : "hidden";
        if (!entry) return window.dash_clientside.no_update;
        refresh(entry);
        mark(entry, point, 14);
        return { marker: !!point };
      },
  };
  window.intakeMaps = maps;
})();
