// Cista's one page script, loaded with the response's CSP nonce. Everything here is an
// enhancement: every page works without it.
//
// 1. A form is sent once: a second click (or Enter) while the first submission is on its way
//    does nothing. The server also answers a repeated submission with the first outcome
//    (see crates/cista-http/src/resubmit.rs); this keeps the browser from asking.
// 2. Buttons marked data-print print the page (they stay hidden without this script).
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
