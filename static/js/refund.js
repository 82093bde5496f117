// The refund form: as packs going back are typed, the amount shows what they were sold for,
// VAT included (each line's share of its VAT, rounded half up), until staff type an amount
// of their own (the server does the same with an empty amount).
(function () {
  "use strict";

  var form = document.querySelector("form.refund-form");
  if (!form) {
    return;
  }
  var amount = form.querySelector("#refund_amount");
  var packs = form.querySelectorAll("input[data-unit-amount]");
  if (!amount || !packs.length) {
    return;
  }
  var following = amount.value === "";

  function total() {
    var cents = 0;
    var lines = {};
    packs.forEach(function (input) {
      var n = parseInt(input.value, 10);
      if (n > 0) {
        cents += n * parseInt(input.getAttribute("data-unit-amount"), 10);
        var id = input.getAttribute("data-line");
        if (!lines[id]) {
          lines[id] = {
            packs: 0,
            tax: parseInt(input.getAttribute("data-line-tax") || "0", 10),
            quantity: parseInt(input.getAttribute("data-line-quantity") || "1", 10)
          };
        }
        lines[id].packs += n;
      }
    });
    Object.keys(lines).forEach(function (id) {
      var line = lines[id];
      cents += Math.floor((2 * line.tax * line.packs + line.quantity) / (2 * line.quantity));
    });
    return cents;
  }

  packs.forEach(function (input) {
    input.addEventListener("input", function () {
      if (following) {
        var cents = total();
        amount.value = cents ? (cents / 100).toFixed(2) : "";
      }
    });
  });
  amount.addEventListener("input", function () {
    following = amount.value === "";
  });
})();
