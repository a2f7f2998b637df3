// Pickup pages: the form's live price, and the pickup list following
// pickup.changed events.
(function () {
  "use strict";
  var f = document.getElementById("pickup-form");
  var box = document.getElementById("quote");
  if (f && box && window.fetch) {
    var final = document.getElementById("quote-final");
    var lines = document.getElementById("quote-lines");
    var note = document.getElementById("quote-note");
    var warning = document.getElementById("quote-warning");
    var timer = null, seq = 0;
    var show = function (q) {
      final.textContent = q.final || "—";
      lines.textContent = "";
      (q.lines || []).forEach(function (l) {
        var li = document.createElement("li");
        li.textContent = l;
        lines.appendChild(li);
      });
      note.textContent = q.error || "";
      note.hidden = !q.error;
      if (warning) {
        warning.textContent = q.warning || "";
        warning.hidden = !q.warning;
      }
      box.dataset.state = q.final ? "ok" : "none";
    };
    var ask = function () {
      var mine = ++seq;
      var q = new URLSearchParams({
        customer: f.elements.customer.value,
        destination: f.elements.destination.value.trim(),
        weight_kg: f.elements.weight_kg.value.trim(),
        payment: (f.querySelector("input[name=payment]:checked") || {}).value || ""
      });
      box.dataset.state = "loading";
      fetch("/pickups/quote?" + q.toString(), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (v) { if (mine === seq && v) show(v); })
        .catch(function () {});
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(ask, 200); };
    ["destination", "weight_kg"].forEach(function (n) {
      f.elements[n].addEventListener("input", later);
      f.elements[n].addEventListener("change", later);
    });
    f.querySelectorAll("input[name=payment]").forEach(function (el) {
      el.addEventListener("change", later);
    });
    if (f.elements.destination.value && f.elements.weight_kg.value) ask();
  }

  // The list: on pickup.changed, read the page again and swap its rows.
  var rows = document.getElementById("pickup-rows");
  var es = window.branchlineEvents;
  if (rows && es && window.DOMParser) {
    var busy = false;
    es.addEventListener("pickup.changed", function () {
      if (busy) return;
      busy = true;
      fetch(location.href, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("pickup-rows");
          var cur = document.getElementById("pickup-rows");
          if (!fresh || !cur) return;
          // Keep the pickups ticked for a bulk action ticked.
          cur.querySelectorAll("input[name=id]:checked").forEach(function (box) {
            var same = fresh.querySelector("input[name=id][value='" + box.value + "']");
            if (same) same.checked = true;
          });
          cur.replaceWith(document.importNode(fresh, true));
        })
        .catch(function () {})
        .then(function () { busy = false; });
    });
  }
})();
