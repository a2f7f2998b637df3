// The warehouse pages' small script. The pages work without it: it only
// shows the move form's inputs of the chosen type, narrows bin selects to
// the chosen warehouse's bins, and selects the barcode input's text on
// focus, so that the next scan replaces the last one.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var form = document.getElementById("move-form");
  if (form) {
    var type = document.getElementById("move-type");
    var sync = function () { form.dataset.direction = type.value.split(".")[0]; };
    type.addEventListener("change", sync);
    sync();
    var code = document.getElementById("barcode");
    code.addEventListener("focus", function () { code.select(); });
  }

  // A bin select [data-bins] has an optgroup per warehouse; the warehouse
  // select is named by data-for (the move form's by default).
  document.querySelectorAll("select[data-bins]").forEach(function (sel) {
    var wh = document.getElementById(sel.dataset.for || "move-warehouse");
    if (!wh) return;
    var narrow = function () {
      sel.querySelectorAll("optgroup").forEach(function (g) {
        var on = g.dataset.warehouse === wh.value;
        g.hidden = !on;
        g.disabled = !on;
      });
      var cur = sel.options[sel.selectedIndex];
      if (cur && !cur.disabled && !(cur.parentNode.disabled)) return;
      for (var i = 0; i < sel.options.length; i++) {
        var o = sel.options[i];
        if (!o.parentNode.disabled) { sel.selectedIndex = i; return; }
      }
    };
    wh.addEventListener("change", narrow);
    narrow();
  });
})();
