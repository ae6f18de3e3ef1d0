// The receipt's print view opens the print dialog once it has loaded (the 80 mm thermal printer).
"use strict";
window.addEventListener("load", function () {
  window.print();
});
