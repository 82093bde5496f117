// Add to cart without leaving the product page: the form is sent in the background, a
// status line beside it says what happened and the header's cart count follows. Without
// script (or when the request cannot be made) the form is sent as a normal page request.
(function () {
  "use strict";

  function statusFor(form) {
    var status = form.parentNode.querySelector(".add-status");
    if (!status) {
      status = document.createElement("p");
      status.className = "add-status";
      status.setAttribute("role", "status");
      form.parentNode.insertBefore(status, form.nextSibling);
    }
    return status;
  }

  function showCount(packs) {
    var link = document.querySelector(".site-header a[href='/cart']");
    if (!link) {
      return;
    }
    var count = link.querySelector(".cart-count");
    if (!count) {
      count = document.createElement("span");
      count.className = "cart-count";
      link.appendChild(document.createTextNode(" "));
      link.appendChild(count);
    }
    count.textContent = "(" + packs + " pack" + (packs === 1 ? "" : "s") + ")";
  }

  document.querySelectorAll("form.add-to-cart").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.FormData) {
        return;
      }
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      var quantity = form.querySelector("input[name=quantity]");
      var status = statusFor(form);
      button.disabled = true;
      status.className = "add-status";
      status.textContent = "Adding…";
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, body: body };
          });
        })
        .then(function (result) {
          button.disabled = false;
          if (result.ok) {
            status.textContent = result.body.message + " ";
            var view = document.createElement("a");
            view.href = "/cart";
            view.textContent = "View cart";
            status.appendChild(view);
            showCount(result.body.cart_packs);
            quantity.removeAttribute("aria-invalid");
          } else {
            status.className = "add-status field-error";
            status.textContent = result.body.error || "The packs could not be added.";
            quantity.setAttribute("aria-invalid", "true");
            quantity.focus();
          }
        })
        .catch(function () {
          button.disabled = false;
          form.submit(); // the page request says what happened
        });
    });
  });
})();
