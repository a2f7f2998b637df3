// The courier's page: when a pickup changes (pickup.changed on the event
// stream), fetch the list again and put it in place. Not while the courier
// is typing into it: then once they leave the field. Pickups that were not
// on the list before are announced: a banner naming them, the pickups
// marked, and the phone vibrates where it can.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) return;
  var busy = false, again = false;
  var typing = function () {
    var a = document.activeElement, list = document.getElementById("courier-pickups");
    return a && a.tagName === "INPUT" && list && list.contains(a);
  };
  var numbers = function () {
    var out = {};
    document.querySelectorAll("#courier-pickups [data-pickup]").forEach(function (a) { out[a.getAttribute("data-pickup")] = true; });
    return out;
  };
  var announce = function (before) {
    var fresh = [];
    document.querySelectorAll("#courier-pickups [data-pickup]").forEach(function (a) {
      var n = a.getAttribute("data-pickup");
      if (!before[n]) { fresh.push(n); a.classList.add("new"); }
    });
    var banner = document.getElementById("courier-new");
    if (!fresh.length || !banner) return;
    var text = fresh.length === 1 ? banner.getAttribute("data-one") : banner.getAttribute("data-many");
    banner.textContent = text.replace("%s", fresh.join(", ")).replace("%d", String(fresh.length));
    banner.hidden = false;
    if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
  };
  var refresh = function () {
    if (busy || typing()) { again = true; return; }
    busy = true;
    fetch("/courier/list", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var list = document.getElementById("courier-pickups");
        if (html !== null && list) {
          var before = numbers();
          list.outerHTML = html;
          announce(before);
        }
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
