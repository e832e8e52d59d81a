/* Cista widget loader. On the firm's page:
     <div data-cista-form="ORGANIZATION/FORM"></div>
     <script src="https://CISTA/widget.js" async></script>
   Each such element gets an iframe of Cista's widget page, sized to its content. Messages
   go by postMessage to Cista's origin only, and only messages from Cista's origin, from that
   iframe, are read. No cookie, no storage, nothing else on the page is touched. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.postMessage) return;
  var cista = new URL(me.src).origin;
  var frames = [];
  function post(frame, type) {
    if (frame.contentWindow) frame.contentWindow.postMessage({ type: type }, cista);
  }
  function mount(box) {
    if (box.getAttribute("data-cista-mounted")) return;
    var form = box.getAttribute("data-cista-form") || "";
    if (!/^[a-z0-9-]+\/[a-z][a-z0-9_-]*$/.test(form)) return;
    box.setAttribute("data-cista-mounted", "1");
    var frame = document.createElement("iframe");
    frame.src = cista + "/w/" + form + "?origin=" + encodeURIComponent(location.origin);
    frame.title = box.getAttribute("data-cista-title") || "Questionnaire";
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.style.cssText = "width:100%;min-width:280px;border:0;height:640px;display:block";
    frame.addEventListener("load", function () { post(frame, "cista:measure"); });
    box.appendChild(frame);
    frames.push(frame);
  }
  window.addEventListener("message", function (e) {
    if (e.origin !== cista || !e.data || typeof e.data.type !== "string") return;
    for (var i = 0; i < frames.length; i++) {
      var frame = frames[i];
      if (frame.contentWindow !== e.source) continue;
      if (e.data.type === "cista:height" && typeof e.data.height === "number") {
        frame.style.height = Math.min(Math.max(e.data.height, 120), 20000) + "px";
      } else if (e.data.type === "cista:submitted") {
        if (frame.getBoundingClientRect().top < 0) frame.scrollIntoView();
        frame.parentNode.dispatchEvent(new CustomEvent("cista:submitted", { bubbles: true }));
      }
    }
  });
  window.addEventListener("resize", function () {
    for (var i = 0; i < frames.length; i++) post(frames[i], "cista:measure");
  });
  function mountAll() {
    var boxes = document.querySelectorAll("[data-cista-form]");
    for (var i = 0; i < boxes.length; i++) mount(boxes[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
