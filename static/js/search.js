// Suggestions under the header's search box: as the buyer types, the products the search
// would list first are offered (a native datalist); choosing one opens its page. Without
// script the box is a normal search, and Enter still searches whatever was typed.
(function () {
  "use strict";

  var input = document.getElementById("site-q");
  if (!input || !window.fetch) {
    return;
  }
  var list = document.createElement("datalist");
  list.id = "site-q-suggestions";
  input.setAttribute("list", list.id);
  input.setAttribute("autocomplete", "off");
  input.parentNode.appendChild(list);
  var pages = {};
  var timer = null;
  var asked = "";

  function suggest(value) {
    asked = value;
    fetch("/search/suggest?q=" + encodeURIComponent(value), {
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (!body || input.value.trim() !== value) {
          return;
        }
        list.textContent = "";
        pages = {};
        body.products.forEach(function (product) {
          var option = document.createElement("option");
          option.value = product.name;
          list.appendChild(option);
          pages[product.name] = product.url;
        });
      })
      .catch(function () {});
  }

  input.addEventListener("input", function (event) {
    var value = input.value.trim();
    // A suggestion chosen from the list arrives as a replacement of the whole text.
    if (pages[value] && (!event.inputType || event.inputType === "insertReplacementText")) {
      window.location.href = pages[value];
      return;
    }
    window.clearTimeout(timer);
    if (value.length < 2 || value === asked) {
      return;
    }
    timer = window.setTimeout(function () {
      suggest(value);
    }, 150);
  });
})();
