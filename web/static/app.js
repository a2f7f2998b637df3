// Branchline's small script: language switch target, type-ahead search,
// and the live event stream. Pages work without it.
(function () {
  "use strict";
  document.querySelectorAll('form[action="/lang"] input[name="next"]').forEach(function (i) {
    i.value = location.pathname + location.search;
  });

  // A refused form: bring its first marked input into view and focus it
  // (unless the page focused a marked input itself), so that an error
  // below the fold is not missed.
  var bad = document.querySelector(".invalid input:not([type=hidden]), .invalid select, .invalid textarea");
  if (bad) {
    var act = document.activeElement;
    var mine = act && act !== document.body && act.closest && act.closest(".invalid");
    var target = mine ? act : bad;
    if (target.scrollIntoView) target.scrollIntoView({ block: "center" });
    if (!mine) target.focus({ preventScroll: true });
  }

  // Type-ahead: the list under the search box follows what is typed;
  // arrow keys move through it, Enter opens the chosen customer.
  var q = document.querySelector("input[data-suggest]");
  if (q) {
    var list = document.getElementById("suggest");
    var timer = null, seq = 0, at = -1;
    var links = function () { return list.querySelectorAll("a"); };
    var mark = function (i) {
      var ls = links();
      at = Math.max(-1, Math.min(i, ls.length - 1));
      ls.forEach(function (a, j) { a.classList.toggle("on", j === at); });
    };
    var show = function (hits) {
      list.textContent = "";
      at = -1;
      hits.forEach(function (h) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = (q.dataset.suggestHref || "/customers/") + encodeURIComponent(h.id);
        a.textContent = h.name;
        if (h.detail) {
          var s = document.createElement("small");
          s.textContent = h.detail;
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
      if (!v) { seq++; show([]); return; }
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
      else if (e.key === "ArrowDown" && !list.hidden) { e.preventDefault(); mark(at + 1); }
      else if (e.key === "ArrowUp" && !list.hidden) { e.preventDefault(); mark(at - 1); }
      else if (e.key === "Enter" && at >= 0) { e.preventDefault(); location.href = links()[at].href; }
    });
    document.addEventListener("click", function (e) {
      if (!list.contains(e.target) && e.target !== q) list.hidden = true;
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

// Keyboard shortcuts for an agent's frequent actions, listed in the
// overlay that "?" opens: "/" goes to the search box (the customer list's
// when the page has none), Alt+N a new pickup, Alt+C a new customer,
// Ctrl+S (Cmd+S) saves the page's form with its primary button, Esc
// closes the overlay. Letters act only outside text fields.
(function () {
  var help = document.getElementById("shortcuts");
  if (!help) return;
  var opener = null;
  var open = function () { opener = document.activeElement; help.hidden = false; document.getElementById("shortcuts-close").focus(); };
  var close = function () { help.hidden = true; if (opener && opener.focus) opener.focus(); };
  document.getElementById("shortcuts-close").addEventListener("click", close);
  var typing = function (el) {
    return el && (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) || el.isContentEditable);
  };
  var go = function (href) { if (document.querySelector('nav a[href="' + href + '"]')) location.href = href; };
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !help.hidden) { e.preventDefault(); close(); return; }
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "s" || e.key === "S")) {
      var btn = document.querySelector("main form button.primary[type=submit], main form button.primary:not([type])");
      if (btn) { e.preventDefault(); btn.click(); }
      return;
    }
    if (e.altKey && !e.ctrlKey && !e.metaKey) {
      var k = (e.code || "").replace("Key", "");
      if (k === "N") { e.preventDefault(); go("/pickups/new"); }
      else if (k === "C") { e.preventDefault(); go("/customers/new"); }
      return;
    }
    if (e.ctrlKey || e.metaKey || typing(e.target)) return;
    if (e.key === "?") { e.preventDefault(); if (help.hidden) open(); else close(); }
    else if (e.key === "/") {
      var box = document.querySelector("main input[type=search]");
      e.preventDefault();
      if (box) box.focus(); else go("/customers");
    }
  });
})();

// Scrolling table wrappers (.scroll, .table-wrap) are reached by keyboard
// (tabindex="0" in the templates) and named after their section's
// heading, so that a screen reader says what the focus is on — unless
// that section is a named region already, or the name is taken: regions
// must be told apart by their names.
function labelRegions(root) {
  var taken = {};
  document.querySelectorAll("[role=region][aria-label]").forEach(function (r) { taken[r.getAttribute("aria-label")] = true; });
  root.querySelectorAll(".scroll[tabindex], .table-wrap[tabindex]").forEach(function (w) {
    if (w.hasAttribute("aria-label") || w.hasAttribute("aria-labelledby")) return;
    var box = w.closest("section, .card, main");
    if (!box || box.hasAttribute("aria-label") || box.hasAttribute("aria-labelledby")) return;
    var h = box.querySelector("h1, h2, h3");
    var name = h && h.textContent.replace(/\s+/g, " ").trim();
    if (!name || taken[name]) return;
    taken[name] = true;
    w.setAttribute("role", "region");
    w.setAttribute("aria-label", name);
  });
}
labelRegions(document);

// Dashboards: the element [data-refresh=N] (with an id) is brought up to
// date every N seconds while the page is visible, in place — the page is
// fetched again and the element patched to match: only the text and
// attributes that changed are written, and nodes added or removed, so
// the elements that stay are the same elements. Focus, selection and the
// scroll of its table wrappers stay where the user has them (a reload, or
// replacing the markup, moved them). Not while the user is typing or
// choosing inside it.
(function () {
  "use strict";
  var el = document.querySelector("[data-refresh]");
  if (!el || !el.id || !window.fetch || !window.DOMParser) return;
  var secs = parseInt(el.dataset.refresh, 10) || 10;
  var busy = false;
  // same says whether node a can be patched into b rather than replaced.
  var same = function (a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName && (a.nodeType !== 1 || a.id === b.id);
  };
  var attrs = function (a, b) {
    for (var i = a.attributes.length - 1; i >= 0; i--) {
      if (!b.hasAttribute(a.attributes[i].name)) a.removeAttribute(a.attributes[i].name);
    }
    for (var j = 0; j < b.attributes.length; j++) {
      var x = b.attributes[j];
      if (a.getAttribute(x.name) !== x.value) a.setAttribute(x.name, x.value);
    }
  };
  // patch makes the children of to those of from, keeping what matches.
  var patch = function (to, from) {
    var a = to.firstChild, b = from.firstChild;
    for (; b; b = b.nextSibling) {
      if (!a) {
        to.appendChild(document.importNode(b, true));
      } else if (same(a, b)) {
        if (a.nodeType === 1) {
          attrs(a, b);
          patch(a, b);
        } else if (a.nodeValue !== b.nodeValue) {
          a.nodeValue = b.nodeValue;
        }
        a = a.nextSibling;
      } else {
        var next = a.nextSibling;
        to.replaceChild(document.importNode(b, true), a);
        a = next;
      }
    }
    while (a) {
      var gone = a;
      a = a.nextSibling;
      to.removeChild(gone);
    }
  };
  setInterval(function () {
    var a = document.activeElement;
    if (document.hidden || busy || (a && el.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName))) return;
    busy = true;
    fetch(location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(el.id);
        if (!fresh) return;
        var focused = document.activeElement, inside = focused && focused !== el && el.contains(focused);
        patch(el, fresh);
        attrs(el, fresh);
        labelRegions(el); // again: the patch took its attributes off
        // What had the focus went away (its row did): keep the focus in
        // the part rather than losing it to the top of the page.
        if (inside && !el.contains(focused)) {
          el.tabIndex = -1;
          el.focus({ preventScroll: true });
        }
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }, secs * 1000);
})();

// [data-print] links print the page (they are hidden without script).
document.querySelectorAll("[data-print]").forEach(function (a) {
  a.hidden = false;
  a.addEventListener("click", function (e) { e.preventDefault(); window.print(); });
});

// Forms with [data-ask] ask before they submit (deleting, removing).
// (admin.js handles its own [data-confirm] forms.)
document.addEventListener("submit", function (e) {
  var f = e.target;
  if (f.dataset && f.dataset.ask && !window.confirm(f.dataset.ask)) e.preventDefault();
});

// Search results: the merge button works once two customers are ticked.
(function () {
  var btn = document.getElementById("merge-selected");
  if (!btn) return;
  var boxes = document.querySelectorAll('input[name=pick][form="merge-pick"]');
  var update = function () {
    var n = 0;
    boxes.forEach(function (b) { if (b.checked) n++; });
    btn.disabled = n !== 2;
  };
  boxes.forEach(function (b) { b.addEventListener("change", update); });
  update();
})();

// File inputs with [data-max-bytes] refuse larger files before uploading.
(function () {
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (i) {
    i.addEventListener("change", function () {
      var f = i.files && i.files[0];
      i.setCustomValidity(f && f.size > parseInt(i.dataset.maxBytes, 10) ? i.dataset.tooLarge : "");
      i.reportValidity();
    });
  });
})();

// Merge page: choosing the customer that stays takes its values, or the
// other's where it has none, unless the user picks otherwise afterwards.
(function () {
  var form = document.getElementById("merge-form");
  if (!form) return;
  form.querySelectorAll("input[name=winner]").forEach(function (w) {
    w.addEventListener("change", function () {
      var side = w.value, other = side === "a" ? "b" : "a";
      form.querySelectorAll("tr.differ").forEach(function (tr) {
        var pick = tr.hasAttribute("data-empty-" + side) ? other : side;
        var r = tr.querySelector('input[type=radio][value="' + pick + '"]');
        if (r) r.checked = true;
      });
    });
  });
})();
