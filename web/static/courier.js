// The courier's page: when a pickup changes (pickup.changed on the event
// stream), fetch the list again and put it in place. Not while the courier
// is typing into it: then once they leave the field.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) return;
  var busy = false, again = false;
  var typing = function () {
    var a = document.activeElement, list = document.getElementById("courier-pickups");
    return a && a.tagName === "INPUT" && list && list.contains(a);
  };
  var refresh = function () {
    if (busy || typing()) { again = true; return; }
    busy = true;
    fetch("/courier/list", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var list = document.getElementById("courier-pickups");
        if (html !== null && list) list.outerHTML = html;
      })
      .catch(function () { again = true; })
      .then(function () {
        busy = false;
        if (again) { again = false; setTimeout(refresh, 300); }
      });
  };
  document.addEventListener("focusout", function () { if (again) setTimeout(refresh, 50); });
  var es = new EventSource("/events");
  es.addEventListener("pickup.changed", refresh);
  // After a reconnect the list may have missed events.
  var opened = false;
  es.addEventListener("open", function () { if (opened) refresh(); opened = true; });
  window.branchlineEvents = es;
})();
