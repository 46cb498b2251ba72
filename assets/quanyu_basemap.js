/*
 * The county's own reference layers (底图: roads, water, blocks, place names) under a map
 * whose overlays a page draws itself (drill-down, planner). The style comes from the server
 * (/api/basemap-style, written once in layers/basemap.py); tiles and label glyphs are served
 * by our own server, so nothing is asked of another host.
 *
 *   window.quanyuBasemap(map)   adds roads, water and blocks under the map's first
 *                               non-background layer, and street and place names on top.
 */
(function () {
  "use strict";
  let spec = null;

  function absolute(url) {
    return url.startsWith("/") ? window.location.origin + url : url;
  }

  function load() {
    if (!spec) spec = fetch("/api/basemap-style", { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : null)).catch(() => null);
    return spec;
  }

  function add(map, style) {
    if (!style || map.getSource("basemap")) return;
    map.setGlyphs(absolute(style.glyphs));
    Object.entries(style.sources).forEach(([id, src]) => {
      map.addSource(id, Object.assign({}, src, { tiles: src.tiles.map(absolute) }));
    });
    const scaled = (layer) => (window.quanyuScalePaint ? window.quanyuScalePaint(layer) : layer);
    const first = map.getStyle().layers.find((l) => l.type !== "background");
    style.under.forEach((layer) => map.addLayer(scaled(layer), first ? first.id : undefined));
    style.over.forEach((layer) => map.addLayer(scaled(layer)));
  }

  window.quanyuBasemap = function (map) {
    const ready = map.loaded() ? Promise.resolve() : new Promise((resolve) => map.once("load", resolve));
    return Promise.all([load(), ready]).then(([style]) => add(map, style));
  };
})();
