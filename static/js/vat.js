// The cart's VAT row follows the checkout form: as the country or the VAT ID changes, it
// shows the VAT that country calls for (the shop's own rate at home, the destination's rate
// in the rest of the EU, none for an export or, with a VAT ID of that country, reverse
// charge). Each line and the shipping are taxed on their own, rounded half up, as the
// server does; the order page after placing the order shows the figures that count.
(function () {
  "use strict";

  var table = document.querySelector("table.cart[data-vat]");
  var country = document.getElementById("country");
  var vatId = document.getElementById("vat_id");
  var label = document.getElementById("vat-label");
  var amount = document.getElementById("vat-amount");
  var total = document.getElementById("gross-total");
  if (!table || !country || !label || !amount || !total) {
    return;
  }
  var config = JSON.parse(table.getAttribute("data-vat"));

  function taxOf(net, rate) {
    return Math.floor((2 * net * rate + 10000) / 20000);
  }

  function grouped(n) {
    return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function money(cents) {
    if (!config.decimals) {
      return config.prefix + grouped(cents);
    }
    return config.prefix + grouped(Math.floor(cents / 100)) + "." + ("0" + (cents % 100)).slice(-2);
  }

  function vatLabel(code, rate) {
    return "VAT " + rate / 100 + " % (" + (config.names[code] || code) + ")";
  }

  function update() {
    var code = country.value;
    var id = vatId ? vatId.value.replace(/[^0-9A-Za-z]/g, "").toUpperCase() : "";
    var prefix = code === "GR" ? "EL" : code;
    var rate = 0;
    var text;
    if (!code) {
      rate = config.rates[config.seller];
      text = vatLabel(config.seller, rate) + ", worked out at checkout from the shipping country";
    } else if (code === config.seller) {
      rate = config.rates[code];
      text = vatLabel(code, rate);
    } else if (!Object.prototype.hasOwnProperty.call(config.rates, code)) {
      text = "Export: no VAT";
    } else if (id && id.indexOf(prefix) === 0) {
      text = "Reverse charge, once your VAT ID is checked";
    } else {
      rate = config.rates[code];
      text = vatLabel(code, rate);
    }
    var tax = taxOf(config.shipping, rate);
    config.nets.forEach(function (net) {
      tax += taxOf(net, rate);
    });
    label.textContent = text;
    amount.textContent = money(tax);
    total.textContent = money(config.net + tax);
  }

  country.addEventListener("change", update);
  if (vatId) {
    vatId.addEventListener("input", update);
  }
})();
