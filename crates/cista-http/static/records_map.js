// The records map over a configured tile server (see crates/cista-http/src/map_tiles.rs):
// reads the tile template, attribution and points from #tile-map's data attributes and draws
// them with the vendored Leaflet. Loaded with the page's CSP nonce, never inline; without it
// (or without script) the grid drawn by the server below stays the map.
"use strict";
(function () {
  var element = document.getElementById("tile-map");
  if (!element || typeof L === "undefined") {
    return;
  }
  var points = [];
  try {
    points = JSON.parse(element.dataset.points || "[]");
  } catch (e) {
    return;
  }
  var map = L.map(element, { scrollWheelZoom: false });
  L.tileLayer(element.dataset.template, {
    maxZoom: 19,
    attribution: element.dataset.attribution || "",
  }).addTo(map);
  var colours = { approved: "#1b7a3a", rejected: "#b3261e", needs_changes: "#b3261e", received: "#1d4ed8" };
  var bounds = [];
  points.forEach(function (p) {
    var marker = L.circleMarker([p.lat, p.lon], {
      radius: 8,
      color: "#ffffff",
      weight: 2,
      fillColor: colours[p.state] || "#1d4ed8",
      fillOpacity: 0.9,
    }).addTo(map);
    // The popup is a link built as a DOM node: no HTML from data is ever parsed.
    var link = document.createElement("a");
    link.href = p.href;
    link.textContent = p.label;
    marker.bindPopup(link);
    marker.bindTooltip(p.label);
    bounds.push([p.lat, p.lon]);
  });
  if (bounds.length > 0) {
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
  } else {
    map.setView([0, 0], 1);
  }
})();
