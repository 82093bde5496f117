// The quote request form: "Add another line" adds an empty line in place instead of
// sending the form to the server (which does the same without JavaScript).
(function () {
  "use strict";

  function renumber(fieldset, index) {
    var pattern = /^lines-\d+-/;
    var prefix = "lines-" + index + "-";
    fieldset.querySelectorAll("[id], [for], [name], [aria-describedby]").forEach(function (el) {
      ["id", "for", "name"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value && pattern.test(value)) {
          el.setAttribute(attr, value.replace(pattern, prefix));
        }
      });
      var described = el.getAttribute("aria-describedby");
      if (described) {
        var kept = described.split(/\s+/).filter(function (id) {
          return !/-error$/.test(id);
        }).map(function (id) {
          return id.replace(pattern, prefix);
        });
        if (kept.length) {
          el.setAttribute("aria-describedby", kept.join(" "));
        } else {
          el.removeAttribute("aria-describedby");
        }
      }
    });
  }

  function clear(fieldset) {
    fieldset.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    fieldset.querySelectorAll(".has-error").forEach(function (el) {
      el.classList.remove("has-error");
    });
    fieldset.querySelectorAll("input, textarea, select").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("autofocus");
      if (el.type === "checkbox") {
        el.checked = false;
      } else {
        el.value = "";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("quote-lines");
    var button = document.getElementById("add-line");
    if (!container || !button) {
      return;
    }
    var max = parseInt(container.getAttribute("data-max-lines"), 10) || 30;
    button.addEventListener("click", function (event) {
      var lines = container.querySelectorAll("fieldset.quote-line");
      if (lines.length >= max || lines.length === 0) {
        return; // the server explains the limit
      }
      event.preventDefault();
      var copy = lines[lines.length - 1].cloneNode(true);
      renumber(copy, lines.length);
      clear(copy);
      copy.querySelector("legend").textContent = "Line " + (lines.length + 1);
      container.appendChild(copy);
      var first = copy.querySelector("input");
      if (first) {
        first.focus();
      }
    });
  });
})();
