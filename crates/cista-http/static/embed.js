/* Cista's widget page, inside the firm's iframe: tells the page its height (so no inner
   scroll bar) and that the answers were sent. Talks only to the site the page was loaded for
   (data-parent-origin, which the server checked against the form's list and the browser
   enforces with frame-ancestors), and reads only that site's messages from the parent. */
(function () {
  "use strict";
  var parentOrigin = document.documentElement.getAttribute("data-parent-origin");
  if (!parentOrigin || window.parent === window) return;
  function tell(message) { window.parent.postMessage(message, parentOrigin); }
  function height() {
    // The body's own height: the document's would never be less than the frame's.
    tell({ type: "cista:height", height: Math.ceil(document.body.getBoundingClientRect().height) });
  }
  window.addEventListener("message", function (e) {
    if (e.origin !== parentOrigin || e.source !== window.parent || !e.data) return;
    if (e.data.type === "cista:measure") height();
  });
  if (window.ResizeObserver) new ResizeObserver(height).observe(document.body);
  window.addEventListener("load", height);
  if (document.body.getAttribute("data-submitted")) tell({ type: "cista:submitted" });
  height();
})();
