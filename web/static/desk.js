// Agent desk: the screen pop and the live agent state, from the named
// events of the user's stream (app.js opens it for [data-live] pages).
// Everything is built with textContent: nothing from the event is HTML.
(function () {
  "use strict";
  var desk = document.getElementById("desk");
  var es = window.branchlineEvents;
  if (!desk || !es) return;
  var t = function (k) { return desk.getAttribute("data-t-" + k) || k; };
  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  };
  // Agents who book pickups get a 叫件 link for each caller: to the form
  // with the customer's sender details, or the caller's number (none when
  // the agent may not see it: the pop then carries it masked).
  var canBook = desk.hasAttribute("data-book");
  var book = function (id, param, value) {
    var b = el("a", "button primary pop-book", t("book"));
    if (id) b.id = id;
    b.href = "/pickups/new" + (param ? "?" + param + "=" + encodeURIComponent(value) : "");
    return b;
  };
  var pair = function (dl, label, value) {
    if (!value) return;
    dl.appendChild(el("dt", "", label));
    dl.appendChild(el("dd", "", value));
  };

  // A ringing call: who is calling and, when the number is a customer's,
  // their card; an unknown number links to a prefilled new-customer form.
  es.addEventListener("call.ring", function (e) {
    var c;
    try { c = JSON.parse(e.data); } catch (err) { return; }
    var pop = document.getElementById("pop");
    if (!pop) return;
    pop.textContent = "";
    pop.dataset.call = c.call || "";
    var head = el("div", "row between");
    head.appendChild(el("h2", "", t("title")));
    head.appendChild(el("span", "badge amber phone", c.caller + (c.caller_name ? " · " + c.caller_name : "")));
    pop.appendChild(head);
    if (c.blacklist_warning) pop.appendChild(el("p", "alert red", t("blacklist")));
    var dl = el("dl", "fields");
    pair(dl, t("caller"), c.caller);
    pair(dl, t("did"), c.did);
    pair(dl, t("queue"), c.queue);
    pop.appendChild(dl);
    var cs = c.customers || [];
    if (cs.length === 0) {
      pop.appendChild(el("p", "warning", t("unknown")));
      var a = el("a", "button primary", t("new"));
      a.id = "pop-new";
      a.href = "/customers/new" + (c.caller_masked ? "" : "?mobile=" + encodeURIComponent(c.caller || ""));
      pop.appendChild(a);
      if (canBook) pop.appendChild(c.caller_masked ? book("pop-book") : book("pop-book", "phone", c.caller || ""));
    }
    cs.forEach(function (cu) {
      var card = el("div", "pop-customer");
      var h = el("h3", "");
      var a = el("a", "pop-name", cu.name || cu.id);
      a.href = "/customers/" + encodeURIComponent(cu.id);
      h.appendChild(a);
      card.appendChild(h);
      var d = el("dl", "fields");
      pair(d, t("level"), cu.level);
      pair(d, t("credit"), [cu.credit_level, cu.credit_limit].filter(Boolean).join(" · "));
      card.appendChild(d);
      var open = el("a", "button", t("open"));
      open.href = a.href;
      card.appendChild(open);
      if (canBook) card.appendChild(book("", "customer", cu.id));
      pop.appendChild(card);
    });
    pop.hidden = false;
    // The call controls act on this call.
    document.querySelectorAll("input[data-call]").forEach(function (i) { i.value = c.call || ""; });
    var call = document.getElementById("call");
    if (call) call.hidden = false;
    var cid = document.getElementById("call-id");
    if (cid) cid.textContent = c.call || "";
  });

  // The agent's state as the switch sees it (ringing, on call, wrap-up…).
  es.addEventListener("agent.state", function (e) {
    var a;
    try { a = JSON.parse(e.data); } catch (err) { return; }
    var badge = document.getElementById("agent-state");
    if (!badge) return;
    badge.dataset.state = a.state;
    badge.textContent = (badge.getAttribute("data-t-" + a.state) || a.state) + (a.reason ? " · " + a.reason : "");
    var call = document.getElementById("call");
    if (a.call) {
      document.querySelectorAll("input[data-call]").forEach(function (i) { i.value = a.call; });
      if (call) call.hidden = false;
    } else if (call && (a.state === "ready" || a.state === "not_ready" || a.state === "wrap_up" || a.state === "logged_out")) {
      call.hidden = true;
    }
  });
})();
