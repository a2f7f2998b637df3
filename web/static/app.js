// Branchline's small script: language switch target, type-ahead search,
// and the live event stream. Pages work without it.
(function () {
  "use strict";
  document.querySelectorAll('form[action="/lang"] input[name="next"]').forEach(function (i) {
    i.value = location.pathname + location.search;
  });

  var q = document.querySelector("input[data-suggest]");
  if (q) {
    var list = document.getElementById("suggest");
    var timer = null, seq = 0;
    var show = function (hits) {
      list.textContent = "";
      hits.forEach(function (h) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = "/customers/" + encodeURIComponent(h.ID);
        a.textContent = h.Name;
        if (h.Detail) {
          var s = document.createElement("small");
          s.textContent = h.Detail;
          a.appendChild(s);
        }
        li.appendChild(a);
        list.appendChild(li);
      });
      list.hidden = hits.length === 0;
    };
    q.addEventListener("input", function () {
      clearTimeout(timer);
      var v = q.value.trim();
      if (!v) { show([]); return; }
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch(q.dataset.suggest + "?q=" + encodeURIComponent(v), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (hits) { if (mine === seq) show(hits || []); })
          .catch(function () {});
      }, 120);
    });
    q.addEventListener("keydown", function (e) {
      if (e.key === "Escape") show([]);
    });
  }

  // Live events: pages that want them have a [data-live] element; each
  // event replaces or fills the element named by its type.
  var live = document.querySelector("[data-live]");
  if (live && window.EventSource) {
    var es = new EventSource("/events");
    es.addEventListener("message", function (e) {
      document.dispatchEvent(new CustomEvent("branchline:event", { detail: e.data }));
    });
    window.branchlineEvents = es;
  }
})();

// Dashboards with [data-refresh=N] reload every N seconds while visible.
(function () {
  var el = document.querySelector("[data-refresh]");
  if (!el) return;
  var secs = parseInt(el.dataset.refresh, 10) || 10;
  setInterval(function () { if (!document.hidden) location.reload(); }, secs * 1000);
})();
