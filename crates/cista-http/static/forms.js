// Cista's one page script, loaded with the response's CSP nonce. Everything here is an
// enhancement: every page works without it.
//
// 1. A form is sent once: a second click (or Enter) while the first submission is on its way
//    does nothing. The server also answers a repeated submission with the first outcome
//    (see crates/cista-http/src/resubmit.rs); this keeps the browser from asking.
// 2. Buttons marked data-print print the page (they stay hidden without this script).
// 3. A download link marked data-progress="ID" (the records' ZIP) is fetched here instead, so
//    the status element ID can show how much has arrived of the length the response announces
//    (Content-Length); the file is then saved under the link's download name. Without fetch or
//    streams, or when the server refuses, the browser follows the link as usual.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.getAttribute("data-sent") === "1") {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sent", "1");
  }, true);
  // A page restored from the back-forward cache may be used again.
  window.addEventListener("pageshow", function () {
    var sent = document.querySelectorAll("form[data-sent]");
    for (var i = 0; i < sent.length; i++) sent[i].removeAttribute("data-sent");
  });
  function megabytes(n) {
    return (n / 1048576).toFixed(1) + " MB";
  }
  function fetchWithProgress(link, status) {
    var bar = status.querySelector("progress");
    var text = status.querySelector("span");
    var received = 0;
    var done = function () { status.removeAttribute("data-busy"); };
    status.hidden = false;
    bar.value = 0;
    text.textContent = "Starting the download…";
    fetch(link.href, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok || !response.body) {
        status.hidden = true;
        done();
        window.location.href = link.href;
        return null;
      }
      var total = Number(response.headers.get("Content-Length")) || 0;
      if (!total) bar.removeAttribute("value");
      var reader = response.body.getReader();
      var pieces = [];
      function step(result) {
        if (result.done) return pieces;
        pieces.push(result.value);
        received += result.value.length;
        if (total) {
          bar.value = Math.min(100, Math.floor(received * 100 / total));
          text.textContent = megabytes(received) + " of " + megabytes(total) + " received";
        } else {
          text.textContent = megabytes(received) + " received";
        }
        return reader.read().then(step);
      }
      return reader.read().then(step);
    }).then(function (pieces) {
      if (!pieces) return;
      var url = URL.createObjectURL(new Blob(pieces, { type: "application/zip" }));
      var save = document.createElement("a");
      save.href = url;
      save.download = link.getAttribute("download") || "records.zip";
      document.body.appendChild(save);
      save.click();
      save.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      bar.value = 100;
      text.textContent = "Done: " + megabytes(received) + " saved.";
      done();
    }).catch(function () {
      bar.removeAttribute("value");
      text.textContent = "The download failed. Try again.";
      done();
    });
  }
  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("a[data-progress]") : null;
    if (!link || !window.fetch || !window.ReadableStream || !window.Blob) return;
    var status = document.getElementById(link.getAttribute("data-progress"));
    if (!status || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    if (status.getAttribute("data-busy") === "1") return;
    status.setAttribute("data-busy", "1");
    fetchWithProgress(link, status);
  });
  function ready() {
    var buttons = document.querySelectorAll("[data-print]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = false;
      buttons[i].addEventListener("click", function () { window.print(); });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
