// The warehouse pages' small script. The pages work without it: it only
// shows the move form's inputs of the chosen type, narrows bin selects to
// the chosen warehouse's bins, selects the barcode input's text on focus,
// so that the next scan replaces the last one, and counts scans on a
// count sheet.
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

  // The count sheet's scan field: each scan (a barcode, or a product code
  // and Enter) adds one to the count of the product's line — the first
  // of its lines when it has several (batches, bins). A product the sheet
  // lacks goes to the found line. The field never submits the form.
  var scan = document.getElementById("count-scan");
  if (scan) {
    var note = document.getElementById("count-scan-note");
    // Enter in the scan field never submits the sheet, however the key
    // reaches it (a scanner's keydown, or a char event of its own).
    scan.form.addEventListener("submit", function (e) {
      if (document.activeElement === scan) e.preventDefault();
    });
    scan.addEventListener("keypress", function (e) { if (e.key === "Enter") e.preventDefault(); });
    scan.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") return;
      e.preventDefault();
      var v = scan.value.trim();
      scan.value = "";
      if (!v) return;
      var row = null;
      document.querySelectorAll("#count-sheet tr[data-product]").forEach(function (tr) {
        if (!row && (tr.dataset.barcode === v || tr.dataset.product === v)) row = tr;
      });
      if (!row) {
        var found = document.querySelector("#count-sheet tr.found input[name=fp]");
        if (found) { found.value = v; found.dispatchEvent(new Event("change")); }
        if (note) note.textContent = scan.dataset.unknown.replace("%s", v);
        return;
      }
      var input = row.querySelector("input[name=lc]");
      var n = parseInt(input.value, 10);
      input.value = String((isNaN(n) ? 0 : n) + 1);
      document.querySelectorAll("#count-sheet tr.scanned").forEach(function (tr) { tr.classList.remove("scanned"); });
      row.classList.add("scanned");
      if (note) note.textContent = (row.querySelector("td a") || row).textContent.trim() + ": " + input.value;
    });
  }
})();
