// Printing: a button marked data-print (the print bar's of a printout,
// templates/print.html, or a list page's) opens the browser's print
// dialog. Without script the browser's own Print (Ctrl+P) does the same.
(function () {
  "use strict";
  document.querySelectorAll("button[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
})();
