// Cista Collect: what the page and the service worker share (both load this file first,
// concatenated by the server, so no importScripts is needed under the strict CSP). It keeps
// the phone's state in IndexedDB and sends waiting records to the JSON API:
//
// - `kv`: the device (its token and what it is for), the forms list, each form's definition.
// - `queue`: records waiting to be sent, each with its client-made UUID (the API's idempotency
//   key: a retry after a lost answer is recognised and never stored twice), its answers, its
//   photos as Blobs, and how far it got (`submission` once the record is stored, `sent_photos`).
// - `sent`: records the server has whole, with their review state once read.
//
// A network failure, a 5xx, 408 or 429 leaves a record waiting (tried again on the next sync);
// any other refusal marks it failed with the server's message, shown on the queue screen. A
// record leaves the queue only when the server has acknowledged it and every photo.
(function (global) {
  "use strict";

  var DB_NAME = "cista-collect";
  var DB_VERSION = 1;
  var CHANNEL = "cista-collect";
  var opened = null;

  function request(r) {
    return new Promise(function (resolve, reject) {
      r.onsuccess = function () { resolve(r.result); };
      r.onerror = function () { reject(r.error); };
    });
  }

  function openDb() {
    if (!opened) {
      opened = new Promise(function (resolve, reject) {
        var r = indexedDB.open(DB_NAME, DB_VERSION);
        r.onupgradeneeded = function () {
          var db = r.result;
          db.createObjectStore("kv");
          db.createObjectStore("queue", { keyPath: "id" });
          db.createObjectStore("sent", { keyPath: "id" });
        };
        r.onsuccess = function () { resolve(r.result); };
        r.onerror = function () { opened = null; reject(r.error); };
      });
    }
    return opened;
  }

  function store(name, mode) {
    return openDb().then(function (db) {
      return db.transaction(name, mode).objectStore(name);
    });
  }

  var db = {
    get: function (name, key) {
      return store(name, "readonly").then(function (s) { return request(s.get(key)); });
    },
    put: function (name, value, key) {
      return store(name, "readwrite").then(function (s) {
        return request(key === undefined ? s.put(value) : s.put(value, key));
      });
    },
    del: function (name, key) {
      return store(name, "readwrite").then(function (s) { return request(s.delete(key)); });
    },
    all: function (name) {
      return store(name, "readonly").then(function (s) { return request(s.getAll()); });
    }
  };

  /// A call to the API with the device token. Rejects only when the network fails.
  function api(path, options) {
    return db.get("kv", "device").then(function (device) {
      var opts = Object.assign({ cache: "no-store", credentials: "omit" }, options || {});
      var headers = Object.assign({}, opts.headers || {});
      if (device && device.token) {
        headers.Authorization = "Bearer " + device.token;
      }
      opts.headers = headers;
      return fetch("/api/v1" + path, opts);
    });
  }

  /// The coded error of an API answer: { code, message, field }.
  function errorOf(response) {
    return response.json().then(function (body) {
      var e = (body && body.error) || {};
      return {
        code: e.code || "http_" + response.status,
        message: e.message || "The server answered " + response.status + ".",
        field: e.field || null
      };
    }, function () {
      return { code: "http_" + response.status, message: "The server answered " + response.status + ".", field: null };
    });
  }

  function base64(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) {
      text += String.fromCharCode(bytes[i]);
    }
    return btoa(text);
  }

  function announce(message) {
    try {
      var channel = new BroadcastChannel(CHANNEL);
      channel.postMessage(message);
      channel.close();
    } catch (e) {
      // No BroadcastChannel: the page refreshes on its own timer.
    }
  }

  /// Whether an answer means "try again later" rather than "this record is refused".
  function transient(status) {
    return status >= 500 || status === 408 || status === 429;
  }

  /// Marks `item` failed (refused, or its sign-in gone) with the server's words.
  function refused(item, response) {
    return errorOf(response).then(function (error) {
      item.state = response.status === 401 ? "waiting" : "failed";
      item.error = response.status === 401
        ? "This phone is no longer signed in. Ask your coordinator for a new QR code; the record will be sent then."
        : error.message;
      item.error_field = error.field;
      return db.put("queue", item).then(function () {
        return response.status === 401 ? "signed_out" : "failed";
      });
    });
  }

  function sendPhotos(item, index) {
    if (index >= item.photos.length) {
      return Promise.resolve("sent");
    }
    var photo = item.photos[index];
    if (item.sent_photos.indexOf(photo.name) >= 0) {
      return sendPhotos(item, index + 1);
    }
    return photo.blob.arrayBuffer().then(function (bytes) {
      return crypto.subtle.digest("SHA-256", bytes).then(function (digest) {
        return api("/submissions/" + item.submission + "/files/" + photo.name, {
          method: "PUT",
          headers: { "Content-Type": photo.type, "Content-Digest": "sha-256=:" + base64(digest) + ":" },
          body: photo.blob
        });
      });
    }).then(function (r) {
      if (r.status === 200 || r.status === 201) {
        item.sent_photos.push(photo.name);
        return db.put("queue", item).then(function () { return sendPhotos(item, index + 1); });
      }
      return transient(r.status) ? "later" : refused(item, r);
    });
  }

  /// Sends one waiting record and its photos: "sent", "later", "failed" or "signed_out".
  function sendOne(item) {
    var stored = item.submission
      ? Promise.resolve(true)
      : api("/forms/" + item.form + "/submissions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ idempotency_key: item.id, payload: item.answers })
      }).then(function (r) {
        if (r.status === 200 || r.status === 201) {
          return r.json().then(function (receipt) {
            item.submission = receipt.submission;
            item.error = null;
            return db.put("queue", item).then(function () { return true; });
          });
        }
        return transient(r.status) ? "later" : refused(item, r);
      });
    return stored.then(function (ok) {
      if (ok !== true) {
        return ok;
      }
      return sendPhotos(item, 0).then(function (outcome) {
        if (outcome !== "sent") {
          return outcome;
        }
        return db.put("sent", {
          id: item.id,
          submission: item.submission,
          form: item.form,
          title: item.title,
          summary: item.summary,
          created_at: item.created_at,
          sent_at: new Date().toISOString(),
          state: "received",
          comment: ""
        }).then(function () {
          return db.del("queue", item.id);
        }).then(function () { return "sent"; });
      });
    }, function () {
      return "later";
    });
  }

  var running = null;

  /// Sends every waiting record, oldest first; stops at the first sign of no network. Returns
  /// { sent, waiting, failed }. One run at a time: a second call joins the first.
  function syncAll() {
    if (running) {
      return running;
    }
    running = db.all("queue").then(function (items) {
      items.sort(function (a, b) { return a.created_at < b.created_at ? -1 : 1; });
      var counts = { sent: 0, waiting: 0, failed: 0 };
      var stop = false;
      return items.reduce(function (chain, item) {
        return chain.then(function () {
          if (item.state === "failed") {
            counts.failed += 1;
            return null;
          }
          if (stop) {
            counts.waiting += 1;
            return null;
          }
          return sendOne(item).then(function (outcome) {
            if (outcome === "sent") {
              counts.sent += 1;
            } else if (outcome === "failed") {
              counts.failed += 1;
            } else {
              counts.waiting += 1;
              stop = true;
            }
          }, function () {
            counts.waiting += 1;
            stop = true;
          });
        });
      }, Promise.resolve()).then(function () {
        announce({ type: "synced", counts: counts });
        return counts;
      });
    }).then(function (counts) {
      running = null;
      return counts;
    }, function (error) {
      running = null;
      throw error;
    });
    return running;
  }

  global.CistaSync = {
    db: db,
    api: api,
    errorOf: errorOf,
    syncAll: syncAll,
    CHANNEL: CHANNEL
  };
})(typeof self !== "undefined" ? self : this);
