// Cista Collect, the collector's app (served after sync.js as one script, with the page's CSP
// nonce; nothing inline). Screens, by the address's fragment:
//   #pair=CODE   a QR code's link: name this phone, exchange the code for a device token
//   #/           the forms, what waits to be sent, the sent records and their reviews
//   #/form/ID    fill a record: every field kind, the phone's location, photos
//   #/queue      what waits and why a record failed; send now, try again, delete
// Records are saved on the phone first (IndexedDB, see sync.js) and sent when there is a
// network: at once, on reconnecting, on opening the app, every 30 seconds while it is open, and
// by Background Sync where the browser has it. Text people typed is only ever set as text
// (textContent, value), never as markup.
(function () {
  "use strict";

  var S = self.CistaSync;
  var main = document.getElementById("main");
  var live = document.getElementById("live");
  var net = document.getElementById("net");
  var PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];

  // --- small helpers -------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) {
        return;
      }
      if (key === "text") {
        node.textContent = value;
      } else if (key.indexOf("on") === 0) {
        node.addEventListener(key.slice(2), value);
      } else {
        node.setAttribute(key, value === true ? "" : value);
      }
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function say(message) {
    live.textContent = "";
    window.setTimeout(function () { live.textContent = message; }, 50);
  }

  // Set while lists are redrawn after a sync: the reader's place (focus) is left alone.
  var redrawing = false;

  function show(title, nodes) {
    main.textContent = "";
    var heading = el("h1", { text: title, tabindex: "-1" });
    main.appendChild(heading);
    nodes.forEach(function (n) { if (n) { main.appendChild(n); } });
    if (!redrawing) {
      heading.focus();
    }
    redrawing = false;
    document.title = title + " — Cista Collect";
  }

  function uuid() {
    if (crypto.randomUUID) {
      return crypto.randomUUID();
    }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function when(iso) {
    try {
      return new Date(iso).toLocaleString();
    } catch (e) {
      return iso;
    }
  }

  function stateLabel(state) {
    return {
      received: "Received", approved: "Approved", rejected: "Rejected", needs_changes: "Needs changes"
    }[state] || state;
  }

  function updateNetwork() {
    S.db.all("queue").then(function (items) {
      var waiting = items.length;
      net.textContent = (navigator.onLine ? "Online" : "Offline") +
        (waiting ? " · " + waiting + " waiting" : "");
    });
  }

  function requestSync() {
    updateNetwork();
    if (navigator.serviceWorker && navigator.serviceWorker.ready && "SyncManager" in window) {
      navigator.serviceWorker.ready.then(function (reg) {
        return reg.sync.register("cista-sync");
      }).catch(function () { /* Background Sync refused: the page sends itself. */ });
    }
    return S.syncAll().then(function (counts) {
      updateNetwork();
      if (counts.sent) {
        say(counts.sent === 1 ? "1 record sent." : counts.sent + " records sent.");
        refreshLists();
      }
      return counts;
    }, function () { updateNetwork(); });
  }

  /// Shows the lists again after records went out, unless someone is filling a form.
  function refreshLists() {
    var hash = location.hash || "#/";
    if (hash === "#/" || hash === "#/queue") {
      redrawing = true;
      route();
    }
  }

  // --- pairing -------------------------------------------------------------------------------

  function pairScreen(code) {
    var error = el("p", { class: "error", id: "pair-error", role: "alert" });
    var name = el("input", {
      id: "device-name", type: "text", maxlength: "80", autocomplete: "off",
      value: "My phone", "aria-describedby": "device-name-hint"
    });
    var form = el("form", { class: "stack", novalidate: true }, [
      el("label", { for: "device-name", text: "Name this phone" }),
      el("p", { class: "hint", id: "device-name-hint", text: "Your coordinator sees this name, so they can tell your phones apart." }),
      name,
      error,
      el("button", { type: "submit", text: "Sign in this phone" })
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.textContent = "";
      fetch("/api/v1/devices/pair", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "omit",
        body: JSON.stringify({ code: code, device_name: name.value })
      }).then(function (r) {
        if (r.status === 201) {
          return r.json().then(function (info) {
            return S.db.put("kv", info, "device").then(function () {
              history.replaceState(null, "", "/collect/#/");
              say("This phone is signed in.");
              route();
            });
          });
        }
        return S.errorOf(r).then(function (e) {
          error.textContent = e.code === "token_invalid"
            ? "This QR code was used already or has expired. Ask for a new one."
            : e.message;
        });
      }).catch(function () {
        error.textContent = "No connection. Pairing needs the network once; try again when you have a signal.";
      });
    });
    show("Sign in this phone", [
      el("p", { text: "You opened a sign-in link for Cista Collect. It works once and only for a few minutes." }),
      form
    ]);
  }

  function notPaired() {
    show("Cista Collect", [
      el("p", { text: "This phone is not signed in yet." }),
      el("p", { text: "Ask your coordinator to show you the sign-in QR code for your phone (or sign in on a computer and open Your phones), then scan it with this phone's camera." })
    ]);
  }

  // --- home ----------------------------------------------------------------------------------

  function loadForms() {
    return S.api("/forms").then(function (r) {
      if (r.status !== 200) {
        return S.db.get("kv", "forms");
      }
      return r.json().then(function (forms) {
        return Promise.all(forms.map(function (f) {
          return S.db.get("kv", "form:" + f.form).then(function (kept) {
            if (kept) {
              return null;
            }
            return S.api("/forms/" + f.form).then(function (fr) {
              return fr.status === 200 ? fr.json().then(function (v) { return S.db.put("kv", v, "form:" + f.form); }) : null;
            });
          });
        })).then(function () {
          return S.db.put("kv", forms, "forms").then(function () { return forms; });
        });
      });
    }, function () {
      return S.db.get("kv", "forms");
    });
  }

  function refreshSent() {
    return S.db.all("sent").then(function (records) {
      records.sort(function (a, b) { return a.sent_at < b.sent_at ? 1 : -1; });
      var recent = records.slice(0, 30);
      return Promise.all(recent.map(function (rec) {
        return S.api("/submissions/" + rec.submission + "/status").then(function (r) {
          if (r.status !== 200) {
            return rec;
          }
          return r.json().then(function (status) {
            var last = status.reviews[status.reviews.length - 1];
            rec.state = status.state;
            rec.comment = last ? last.comment : "";
            return S.db.put("sent", rec).then(function () { return rec; });
          });
        }, function () { return rec; });
      }));
    });
  }

  function home(device) {
    Promise.all([loadForms(), S.db.all("queue"), refreshSent().catch(function () { return S.db.all("sent"); })])
      .then(function (parts) {
        var forms = parts[0] || [];
        var queue = parts[1];
        var sent = parts[2];
        var formList = el("ul", { class: "choices" }, forms.map(function (f) {
          return el("li", {}, [el("a", { class: "button", href: "#/form/" + f.form, text: f.title })]);
        }));
        var failed = queue.filter(function (q) { return q.state === "failed"; }).length;
        var waiting = el("p", {}, [
          queue.length === 0 ? "Nothing is waiting to be sent." :
            queue.length + (queue.length === 1 ? " record is" : " records are") + " waiting to be sent" +
            (failed ? " (" + failed + " could not be sent)" : "") + ". ",
          queue.length ? el("a", { href: "#/queue", text: "See what is waiting" }) : null
        ]);
        var sentList = el("ul", { class: "records" }, sent.map(function (rec) {
          return el("li", {}, [
            el("strong", { text: rec.title }), " · ", rec.summary || "", " · sent " + when(rec.sent_at), " · ",
            el("span", { class: "state state-" + rec.state, text: stateLabel(rec.state) }),
            rec.comment ? el("p", { class: "comment", text: "Reviewer: " + rec.comment }) : null
          ]);
        }));
        show(device.organization_name, [
          el("p", { class: "hint", text: "Signed in as " + device.device_name + " until " + when(device.expires_at) + "." }),
          el("h2", { text: "Fill a record" }),
          forms.length ? formList : el("p", { text: "No forms yet, or none could be loaded without a network." }),
          el("h2", { text: "Waiting to send" }),
          waiting,
          el("h2", { text: "Sent records" }),
          sent.length ? sentList : el("p", { text: "None yet." })
        ]);
      });
  }

  // --- the record form -----------------------------------------------------------------------

  function fieldHint(field) {
    var k = field.kind;
    if (k === "number") {
      return (field.whole ? "A whole number" : "A number") + " from " + field.min + " to " + field.max + ".";
    }
    if (k === "photos") {
      return "Up to " + field.max + (field.max === 1 ? " photo" : " photos") + ".";
    }
    if (k === "select_many" && field.max_selected) {
      return "Choose up to " + field.max_selected + ".";
    }
    return "";
  }

  /// One field's control; returns { node, read() → answer or undefined, error(text) }.
  function control(field, photos) {
    var id = "f-" + field.id;
    var hintText = [field.hint, fieldHint(field)].filter(Boolean).join(" ");
    var hint = hintText ? el("p", { class: "hint", id: id + "-hint", text: hintText }) : null;
    var error = el("p", { class: "error", id: id + "-error" });
    var described = [hint ? id + "-hint" : null, id + "-error"].filter(Boolean).join(" ");
    var label = field.label + (field.required ? " (required)" : "");
    var k = field.kind;
    var input;
    var read;
    var extra = [];
    if (k === "text") {
      // A short answer is one line; a longer one may run over several.
      input = field.max_length <= 200
        ? el("input", { id: id, type: "text", maxlength: String(field.max_length), "aria-describedby": described, autocomplete: "off" })
        : el("textarea", { id: id, rows: "3", maxlength: String(field.max_length), "aria-describedby": described });
      read = function () { return input.value.trim() || undefined; };
    } else if (k === "number") {
      input = el("input", { id: id, type: "text", inputmode: field.whole ? "numeric" : "decimal", "aria-describedby": described, autocomplete: "off" });
      read = function () {
        var text = input.value.trim().replace(",", ".");
        return text === "" ? undefined : Number(text);
      };
    } else if (k === "date") {
      input = el("input", { id: id, type: "date", "aria-describedby": described });
      read = function () { return input.value || undefined; };
    } else if (k === "select_one" || k === "select_many") {
      var multi = k === "select_many";
      var boxes = field.choices.map(function (c, i) {
        var box = el("input", { type: multi ? "checkbox" : "radio", name: id, id: id + "-" + i, value: c.id });
        return el("div", { class: "choice" }, [box, el("label", { for: id + "-" + i, text: c.label })]);
      });
      var set = el("fieldset", { "aria-describedby": described }, [el("legend", { text: label })].concat(hint ? [hint] : []).concat(boxes).concat([error]));
      var checked = function () {
        return Array.prototype.filter.call(set.querySelectorAll("input"), function (b) { return b.checked; })
          .map(function (b) { return b.value; });
      };
      return {
        node: set,
        read: function () {
          var values = checked();
          if (multi) {
            return values.length ? values : undefined;
          }
          return values[0];
        },
        error: function (text) { error.textContent = text; }
      };
    } else if (k === "geopoint") {
      var point;
      var shown = el("p", { id: id + "-value", class: "point", text: "No location yet." });
      input = el("button", { type: "button", id: id, class: "secondary", "aria-describedby": id + "-value " + described, text: "Use my location" });
      input.addEventListener("click", function () {
        if (!navigator.geolocation) {
          shown.textContent = "This phone cannot give its location.";
          return;
        }
        shown.textContent = "Finding your location…";
        navigator.geolocation.getCurrentPosition(function (pos) {
          var c = pos.coords;
          point = { latitude: c.latitude, longitude: c.longitude, accuracy_m: Math.round(c.accuracy * 10) / 10 };
          if (typeof c.altitude === "number") {
            point.altitude_m = c.altitude;
          }
          shown.textContent = c.latitude.toFixed(5) + ", " + c.longitude.toFixed(5) + " (within " + Math.round(c.accuracy) + " m)";
          say("Location recorded, within " + Math.round(c.accuracy) + " metres.");
        }, function (e) {
          shown.textContent = e.code === 1
            ? "Location is turned off for this app. Allow it in the browser's settings and try again."
            : "The location could not be found. Try again, outdoors if you can.";
        }, { enableHighAccuracy: true, timeout: 30000, maximumAge: 0 });
      });
      extra = [shown];
      read = function () { return point; };
    } else if (k === "photos") {
      var list = el("ul", { class: "photos", "aria-live": "polite" });
      input = el("input", { id: id, type: "file", accept: "image/*", capture: "environment", multiple: field.max > 1, "aria-describedby": described });
      photos[field.id] = [];
      var redraw = function () {
        list.textContent = "";
        photos[field.id].forEach(function (p, i) {
          var url = URL.createObjectURL(p.blob);
          list.appendChild(el("li", {}, [
            el("img", { src: url, alt: "Photo " + (i + 1) + " of " + field.label }),
            el("button", { type: "button", class: "link", text: "Remove photo " + (i + 1), onclick: function () {
              photos[field.id].splice(i, 1);
              redraw();
            } })
          ]));
        });
      };
      input.addEventListener("change", function () {
        var files = Array.prototype.slice.call(input.files || []);
        input.value = "";
        error.textContent = "";
        files.reduce(function (chain, file) {
          return chain.then(function () {
            if (photos[field.id].length >= field.max) {
              error.textContent = "This field takes at most " + field.max + (field.max === 1 ? " photo." : " photos.");
              return null;
            }
            return preparePhoto(file, field).then(function (photo) {
              photos[field.id].push(photo);
            }, function (e) { error.textContent = e.message; });
          });
        }, Promise.resolve()).then(redraw);
      });
      extra = [list];
      read = function () { return photos[field.id].length ? photos[field.id].length : undefined; };
    } else {
      return { node: el("div", { class: "note" }, [el("p", { text: field.label }), hint]), read: function () { return undefined; }, error: function () {} };
    }
    return {
      node: el("div", { class: "field" }, [el("label", { for: id, text: label }), hint, input].concat(extra).concat([error])),
      read: read,
      error: function (text) { error.textContent = text; }
    };
  }

  /// A photo as it will be sent: downscaled to the form's size (which also drops the file's
  /// embedded data, such as its location), or as taken when the form asks for no downscaling
  /// and it is a JPEG, PNG or WebP.
  function preparePhoto(file, field) {
    var needsCanvas = field.downscale_to || PHOTO_TYPES.indexOf(file.type) < 0;
    var ready = needsCanvas ? downscale(file, field.downscale_to || 4096) : Promise.resolve(file);
    return ready.then(function (blob) {
      if (blob.size > field.max_bytes) {
        throw new Error("This photo is " + Math.ceil(blob.size / 1048576) + " MB; the form takes at most " +
          Math.floor(field.max_bytes / 1048576) + " MB.");
      }
      return { blob: blob, type: blob.type || file.type };
    });
  }

  function downscale(file, longest) {
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, longest / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve, reject) {
        canvas.toBlob(function (blob) {
          if (blob) {
            resolve(blob);
          } else {
            reject(new Error("This photo could not be read."));
          }
        }, "image/jpeg", 0.85);
      });
    }, function () {
      throw new Error("This file is not a photo this phone can read.");
    });
  }

  function check(field, value) {
    if (value === undefined) {
      return field.required ? "Answer this question: it is required." : null;
    }
    if (field.kind === "number") {
      if (!isFinite(value)) {
        return "Write a number, such as 12.5.";
      }
      if (value < field.min || value > field.max) {
        return "Write a number from " + field.min + " to " + field.max + ".";
      }
      if (field.whole && value % 1 !== 0) {
        return "Write a whole number.";
      }
    }
    if (field.kind === "select_many" && field.max_selected && value.length > field.max_selected) {
      return "Choose at most " + field.max_selected + ".";
    }
    return null;
  }

  function fillScreen(formId) {
    S.db.get("kv", "form:" + formId).then(function (version) {
      if (!version) {
        show("Form not on this phone", [el("p", { text: "This form has not been downloaded. Open the app once with a network." }), el("a", { href: "#/", text: "Back" })]);
        return;
      }
      var form = version.definition;
      var photos = {};
      var controls = form.fields.map(function (f) { return { field: f, c: control(f, photos) }; });
      var summary = el("div", { class: "error-summary", role: "alert", tabindex: "-1" });
      var save = el("button", { type: "submit", text: "Save and send" });
      var node = el("form", { class: "stack", novalidate: true }, [summary]
        .concat(controls.map(function (x) { return x.c.node; }))
        .concat([save]));
      node.addEventListener("submit", function (event) {
        event.preventDefault();
        var answers = {};
        var problems = [];
        var photoList = [];
        controls.forEach(function (x) {
          var value = x.c.read();
          var problem = check(x.field, value);
          x.c.error(problem || "");
          if (problem) {
            problems.push({ field: x.field, text: problem });
            return;
          }
          if (value === undefined) {
            return;
          }
          if (x.field.kind === "photos") {
            answers[x.field.id] = photos[x.field.id].map(function (p) {
              var name = "p" + (photoList.length + 1);
              photoList.push({ name: name, type: p.type, blob: p.blob });
              return name;
            });
          } else {
            answers[x.field.id] = value;
          }
        });
        summary.textContent = "";
        if (problems.length) {
          summary.appendChild(el("h2", { text: problems.length === 1 ? "There is a problem" : "There are " + problems.length + " problems" }));
          summary.appendChild(el("ul", {}, problems.map(function (p) {
            return el("li", {}, [el("a", { href: "#f-" + p.field.id, text: p.field.label + ": " + p.text, onclick: function (e) {
              e.preventDefault();
              var target = document.getElementById("f-" + p.field.id) || document.getElementById("f-" + p.field.id + "-0");
              if (target) { target.focus(); }
            } })]);
          })));
          summary.focus();
          return;
        }
        save.disabled = true;
        var first = form.fields.filter(function (f) { return f.kind === "text" && answers[f.id]; })[0];
        var item = {
          id: uuid(),
          form: version.form,
          title: form.title,
          summary: first ? String(answers[first.id]).slice(0, 60) : "",
          answers: answers,
          photos: photoList,
          sent_photos: [],
          submission: null,
          state: "waiting",
          error: null,
          created_at: new Date().toISOString()
        };
        S.db.put("queue", item).then(function () {
          say(navigator.onLine ? "Saved. Sending…" : "Saved on this phone. It will be sent when you have a signal.");
          location.hash = "#/";
          requestSync();
        });
      });
      show(form.title, [form.description ? el("p", { text: form.description }) : null, node]);
    });
  }

  // --- the queue -----------------------------------------------------------------------------

  function queueScreen() {
    S.db.all("queue").then(function (items) {
      items.sort(function (a, b) { return a.created_at < b.created_at ? -1 : 1; });
      var list = el("ul", { class: "records" }, items.map(function (item) {
        var photosLeft = item.photos.length - item.sent_photos.length;
        var status = item.state === "failed"
          ? "Not sent: " + (item.error || "refused")
          : item.error ? "Waiting: " + item.error
            : item.submission ? "Record sent; " + photosLeft + (photosLeft === 1 ? " photo" : " photos") + " still to send."
              : "Waiting for a network.";
        return el("li", { class: item.state === "failed" ? "failed" : "waiting" }, [
          el("strong", { text: item.title }), " · ", item.summary || "", " · saved " + when(item.created_at),
          el("p", { text: status }),
          item.state === "failed" ? el("button", { type: "button", class: "secondary", text: "Try again", onclick: function () {
            item.state = "waiting";
            item.error = null;
            S.db.put("queue", item).then(function () { return requestSync(); }).then(queueScreen);
          } }) : null,
          item.state === "failed" ? el("button", { type: "button", class: "link", text: "Delete this record", onclick: function () {
            if (window.confirm("Delete this record from the phone? It was never stored on the server.")) {
              S.db.del("queue", item.id).then(queueScreen);
            }
          } }) : null
        ]);
      }));
      show("Waiting to send", [
        items.length ? list : el("p", { text: "Nothing is waiting." }),
        el("button", { type: "button", text: "Send now", onclick: function () { requestSync().then(queueScreen); } }),
        el("p", {}, [el("a", { href: "#/", text: "Back to the forms" })])
      ]);
    });
  }

  // --- routing -------------------------------------------------------------------------------

  function route() {
    var hash = location.hash || "#/";
    var pairing = /^#pair=([A-Za-z0-9_-]+)$/.exec(hash);
    if (pairing) {
      pairScreen(pairing[1]);
      return;
    }
    S.db.get("kv", "device").then(function (device) {
      if (!device) {
        notPaired();
        return;
      }
      var form = /^#\/form\/(\d+)$/.exec(hash);
      if (form) {
        fillScreen(form[1]);
      } else if (hash === "#/queue") {
        queueScreen();
      } else {
        home(device);
      }
    });
  }

  window.addEventListener("hashchange", route);
  window.addEventListener("online", function () { updateNetwork(); requestSync().then(route); });
  window.addEventListener("offline", updateNetwork);
  try {
    var channel = new BroadcastChannel(S.CHANNEL);
    channel.onmessage = function (event) {
      updateNetwork();
      if (event.data && event.data.counts && event.data.counts.sent) {
        refreshLists();
      }
    };
  } catch (e) {
    // Older browsers: the timer below refreshes.
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/collect/sw.js", { scope: "/collect/" }).catch(function () {
      // Without a service worker the app still works while the page is open.
    });
  }
  if (navigator.storage && navigator.storage.persist) {
    navigator.storage.persist().catch(function () {});
  }
  window.setInterval(function () {
    if (navigator.onLine) {
      requestSync();
    }
  }, 30000);
  route();
  updateNetwork();
  requestSync();
})();
