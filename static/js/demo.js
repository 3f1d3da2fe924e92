// Development demo: create a payment through the public API and open its buyer page.
(function () {
  "use strict";
  var form = document.getElementById("demo-form");
  var error = document.getElementById("demo-error");

  // With the demo shop on, the payment carries an order reference and the way back to the shop.
  function order(value) {
    var body = { value: value };
    if (form.dataset.returnUrl) {
      body.order_id = "pedido-" + Date.now();
      body.return_url = form.dataset.returnUrl;
    }
    return body;
  }

  // The server's own reason: a refusal is not always about the amount (a SHOP_API_KEY, a rate limit).
  function refusal(status, body) {
    var reason = body && body.error;
    if (!reason) return "Não foi possível criar a cobrança (erro " + status + "). Tente de novo.";
    return "A cobrança não foi criada (" + status + " " + reason.code + "): " + reason.message;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.textContent = "";
    // Brazilians write 1.500,00: drop thousands dots, then make the decimal comma a dot.
    var typed = form.elements.value.value.trim();
    var value = typed.indexOf(",") >= 0 ? typed.replace(/\./g, "").replace(",", ".") : typed;
    fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(order(value))
    })
      .then(function (response) { return response.json().then(function (body) { return [response, body]; }); })
      .then(function (pair) {
        if (pair[0].ok) window.location.assign(pair[1].payment.page_url);
        else error.textContent = refusal(pair[0].status, pair[1]);
      })
      .catch(function () { error.textContent = "Não foi possível criar a cobrança. Tente de novo."; });
  });
})();
