// The refund form: as packs going back are typed, the amount shows what they were sold for,
// until staff type an amount of their own (the server does the same with an empty amount).
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
    packs.forEach(function (input) {
      var n = parseInt(input.value, 10);
      if (n > 0) {
        cents += n * parseInt(input.getAttribute("data-unit-amount"), 10);
      }
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
