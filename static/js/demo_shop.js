// Development demo shop: new webhook events appear at the top of the table as they arrive.
(function () {
  "use strict";
  var table = document.getElementById("events");
  var empty = document.getElementById("empty");
  var connection = document.querySelector(".connection");
  var connectionText = document.getElementById("connection-text");

  function cell(text, attributes) {
    var td = document.createElement("td");
    td.textContent = text; // textContent, never HTML: the event came from the network
    Object.keys(attributes || {}).forEach(function (name) { td.setAttribute(name, attributes[name]); });
    return td;
  }

  function show(event) {
    var row = document.createElement("tr");
    var when = new Date(event.received_at).toLocaleTimeString("pt-BR");
    var order = event.order_id || (event.payment_id ? "nº " + event.payment_id : "—");
    var signature = event.verified ? (event.duplicate ? "válida (repetido)" : "válida") : "inválida";
    row.appendChild(cell(when));
    row.appendChild(cell(event.type, { "class": "mono" }));
    row.appendChild(cell(order));
    row.appendChild(cell(event.status || "—"));
    row.appendChild(cell(signature, { "data-verified": event.verified ? "yes" : "no" }));
    table.insertBefore(row, table.firstChild);
    empty.hidden = true;
  }

  function state(name, text) {
    connection.dataset.state = name;
    connectionText.textContent = text;
  }

  var socket = io("/demo-shop", { transports: ["websocket", "polling"] });
  socket.on("connect", function () { state("connected", "Ao vivo"); });
  socket.on("disconnect", function () { state("reconnecting", "Reconectando…"); });
  socket.on("shop_event", show);
})();
