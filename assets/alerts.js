/* Quanyu big screen: alarm markers (pulsing while unacknowledged), the sound switch and
   the chime when a new alarm arrives. Markers are MapLibre HTML markers on the screen's
   map (window.quanyuMap, made by quanyu_map.js); the sound is /assets/alert.wav, served
   by this server (offline). Browsers block sound until the page is clicked, so the
   operator switches it on with a visible button, which plays it once as a check. */
(function () {
  const markers = new Map(); // alarm id -> maplibregl.Marker
  let seen = null; // alarm ids already announced (null before the first data)

  function markersFor(data) {
    const map = window.quanyuMap;
    if (!map || !window.maplibregl) return false;
    const keep = new Set();
    (data || []).forEach(function (a) {
      keep.add(a.id);
      let m = markers.get(a.id);
      const cls = "alert-marker level-" + a.level + (a.new ? " new" : "");
      if (!m) {
        const el = document.createElement("div");
        el.innerHTML = '<span class="ring"></span><span class="dot"></span>';
        el.id = "alert-marker-" + a.id;
        m = new maplibregl.Marker({ element: el }).setLngLat([a.lon, a.lat]).addTo(map);
        markers.set(a.id, m);
      }
      const el = m.getElement();
      el.className = cls + " maplibregl-marker";
      el.title = a.title;
    });
    markers.forEach(function (m, id) {
      if (!keep.has(id)) { m.remove(); markers.delete(id); }
    });
    return true;
  }

  function play() {
    const audio = document.getElementById("alert-audio");
    if (!audio) return;
    window.alertSoundPlays = (window.alertSoundPlays || 0) + 1;
    try { audio.currentTime = 0; const p = audio.play(); if (p && p.catch) p.catch(function () {}); } catch (e) { /* blocked */ }
  }

  window.alertMarkerIds = function () { return Array.from(markers.keys()); };

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    alerts: {
      markers: function (data) {
        // The map may still be loading: try again shortly (the style and tiles come first).
        if (!markersFor(data)) setTimeout(function () { markersFor(data); }, 800);
        return (data || []).length;
      },
      toggle: function (clicks, on, labels) {
        let state = !!on;
        if (clicks) { state = !state; if (state) play(); }
        return [state, state ? labels.on : labels.off];
      },
      fromVersions: function (versions, known) {
        const v = versions && versions.alert;
        return v === undefined || v === null || v === known ? window.dash_clientside.no_update : v;
      },
      ring: function (data, on) {
        const fresh = (data || []).filter(function (a) { return a.new; }).map(function (a) { return a.id; });
        if (seen !== null && on && fresh.some(function (id) { return !seen.has(id); })) play();
        seen = new Set(fresh.concat(seen ? Array.from(seen) : []));
        return fresh.length;
      },
    },
  });
})();
