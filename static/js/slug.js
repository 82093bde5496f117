// The new-product form: the slug follows the name as it is typed, as the server would make
// it from the name, until staff type a slug of their own. An existing product's slug never
// moves by itself (its address is in links and search engines).
(function () {
  "use strict";

  var name = document.getElementById("name");
  var slug = document.getElementById("slug");
  if (!name || !slug || slug.value !== "") {
    return;
  }

  function suggest(text) {
    return text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 120)
      .replace(/-+$/, "");
  }

  var following = true;
  name.addEventListener("input", function () {
    if (following) {
      slug.value = suggest(name.value);
    }
  });
  slug.addEventListener("input", function () {
    following = slug.value === "";
  });
})();
