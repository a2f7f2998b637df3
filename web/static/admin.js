// Administration pages: ask before irreversible actions (forms with
// data-confirm), copy a new token's secret, and enable a permission's
// scope only while the permission is ticked. The pages work without it.
(function () {
  "use strict";
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) {
      e.preventDefault();
    }
  });
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.hidden = !navigator.clipboard;
    b.addEventListener("click", function () {
      var el = document.getElementById(b.dataset.copy);
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        b.textContent = b.dataset.done || b.textContent;
      });
    });
  });
  document.querySelectorAll("table.perms tr").forEach(function (tr) {
    var box = tr.querySelector("input[name=perm]");
    var sel = tr.querySelector("select");
    if (!box || !sel) return;
    var sync = function () { sel.disabled = !box.checked; };
    box.addEventListener("change", sync);
    sync();
  });
})();
