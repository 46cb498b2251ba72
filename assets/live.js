/*
 * Push, not poll (issue #17). On the big screen, the data versions arrive as server-sent
 * events from /api/live the moment a writer commits (PostgreSQL NOTIFY, geo/live.py); each
 * event sets the page's `versions` store, which redraws the panels, the feed and the map
 * layers that depend on what moved, exactly as a poll that found a change would. While the
 * stream is open the page's poll timer (`tick`) is off; when the stream drops, is refused
 * (503: push off, the worker full, its listener down) or says "down", the timer is back on
 * and the page polls every QUANYU_LIVE_SECONDS until a new stream opens (tried again every
 * RETRY_MS). `document.body.dataset.live` says which: "push" or "poll".
 */
(function () {
  "use strict";
  const RETRY_MS = 15000;
  let source = null;
  let retry = null;
  let last = null;
  let mode = null;

  function onScreen() {
    return !!document.getElementById("kpis") && !!(window.dash_clientside && window.dash_clientside.set_props);
  }

  function setMode(next) {
    document.body.dataset.live = next;
    if (next === mode || !onScreen()) return;
    mode = next;
    window.dash_clientside.set_props("tick", { disabled: next === "push" });
  }

  function close(thenPoll) {
    if (source) {
      source.close();
      source = null;
    }
    if (thenPoll) setMode("poll");
  }

  function later() {
    if (!retry) retry = setTimeout(open, RETRY_MS);
  }

  function open() {
    retry = null;
    if (!onScreen() || !window.EventSource || source) return;
    source = new EventSource("/api/live");
    source.onmessage = function (e) {
      if (!onScreen()) return close(false);
      setMode("push");
      document.body.dataset.liveEvents = String(Number(document.body.dataset.liveEvents || 0) + 1);
      if (e.data !== last) {
        last = e.data;
        window.dash_clientside.set_props("versions", { data: JSON.parse(e.data) });
      }
    };
    source.addEventListener("down", function () {
      close(true);
      later();
    });
    source.onerror = function () {
      // A dropped stream is reopened by EventSource itself (poll meanwhile); a refused one is not.
      if (source && source.readyState === EventSource.CLOSED) {
        close(true);
        later();
      } else {
        setMode("poll");
      }
    };
  }

  // Dash renders its pages after this script runs, and leaving the big screen removes it.
  setInterval(function () {
    if (onScreen()) {
      if (!source && !retry) open();
    } else if (source) {
      close(false);
      mode = null;
    } else {
      mode = null;
    }
  }, 1000);
})();
