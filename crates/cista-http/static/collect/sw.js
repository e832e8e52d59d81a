// Cista Collect's service worker (served after sync.js, scope /collect/). It keeps the app
// shell so the app opens with no signal, and sends waiting records when the browser fires
// Background Sync. The API is never cached: records and tokens go to the network or wait in
// IndexedDB. The cache name carries the server's asset version (filled in when served), so a
// new release replaces the old shell.
(function () {
  "use strict";

  var VERSION = "__CISTA_COLLECT_VERSION__";
  var CACHE = "cista-collect-" + VERSION;
  var SHELL = [
    "/collect/",
    "/collect/app.js",
    "/collect/app.css",
    "/collect/manifest.webmanifest",
    "/collect/icon.svg",
    "/collect/icon-192.png",
    "/collect/icon-512.png"
  ];

  self.addEventListener("install", function (event) {
    event.waitUntil(
      caches.open(CACHE)
        .then(function (cache) { return cache.addAll(SHELL); })
        .then(function () { return self.skipWaiting(); })
    );
  });

  self.addEventListener("activate", function (event) {
    event.waitUntil(
      caches.keys().then(function (keys) {
        return Promise.all(keys.filter(function (key) {
          return key.indexOf("cista-collect-") === 0 && key !== CACHE;
        }).map(function (key) { return caches.delete(key); }));
      }).then(function () { return self.clients.claim(); })
    );
  });

  self.addEventListener("fetch", function (event) {
    var request = event.request;
    var url = new URL(request.url);
    if (url.origin !== self.location.origin || request.method !== "GET" || url.pathname.indexOf("/collect/") !== 0) {
      return;
    }
    if (request.mode === "navigate") {
      // The page from the network when there is one (it may be newer), else the kept copy.
      event.respondWith(
        fetch(request).then(function (response) {
          if (response.ok) {
            var copy = response.clone();
            caches.open(CACHE).then(function (cache) { return cache.put("/collect/", copy); });
          }
          return response;
        }).catch(function () {
          return caches.match("/collect/");
        })
      );
      return;
    }
    event.respondWith(
      caches.match(request).then(function (hit) { return hit || fetch(request); })
    );
  });

  self.addEventListener("sync", function (event) {
    if (event.tag === "cista-sync") {
      event.waitUntil(self.CistaSync.syncAll());
    }
  });
})();
