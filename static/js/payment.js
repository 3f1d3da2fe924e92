// The waiting page: follows its payment live over Socket.IO, polls until it is subscribed (and whenever it
// is not), counts down to expiry, and moves to the paid or expired page as soon as the server says so. Past
// the deadline it waits out the grace in which a last-second payment can still be confirmed, telling the buyer.
(function () {
  "use strict";

  var POLL_MS = 3000;
  // Even while connected, check now and then: a lost event must not leave a paid buyer waiting.
  var SAFETY_POLL_MS = 30000;
  var root = document.getElementById("payment");
  var token = root.dataset.token;
  var pageUrl = root.dataset.pageUrl;
  var statusUrl = root.dataset.statusUrl;
  // Counted on the monotonic clock: the phone's wall clock may be wrong, or be corrected while the buyer waits.
  var deadline = performance.now() + Number(root.dataset.secondsLeft) * 1000;
  var graceMs = Number(root.dataset.graceSeconds) * 1000;
  var closesAt = performance.now() + Number(root.dataset.closesIn) * 1000;

  var connection = document.querySelector(".connection");
  var connectionText = document.getElementById("connection-text");
  var announcer = document.getElementById("announcer");
  var countdown = document.getElementById("countdown");
  var leaving = false;
  var pollTimer = null;
  var reachedZero = false;
  var subscribeRetry = null;
  var subscribeRetryMs = 5000;

  function announce(text) {
    announcer.textContent = text;
  }

  function showClosing() {
    if (root.classList.contains("closing")) return;
    root.classList.add("closing");
    document.getElementById("closing").hidden = false;
    document.getElementById("heading").textContent = "Confirmando o pagamento";
    announce("O prazo terminou. Se você acabou de pagar, aguarde a confirmação do banco.");
  }

  function showStatus(payment) {
    if (leaving || !payment || payment.status === "pending") return;
    if (payment.status === "expired" && performance.now() < closesAt) {
      showClosing();  // not final yet: the live event or the 3 s poll brings paid, or expired once it is
      return;
    }
    leaving = true;
    announce(payment.status === "paid" ? "Pagamento confirmado!" : "O código PIX expirou.");
    // The same URL now renders the paid or expired page.
    window.location.replace(pageUrl);
  }

  // The monotonic clock stops while some phones sleep: each answer sets the deadline again by the server's own
  // clock (its Date header against the payment's expiration_date), which neither sleep nor a wrong clock moves.
  function resync(payment, servedAt) {
    var expires = Date.parse(payment && payment.expiration_date);
    if (isNaN(expires) || isNaN(servedAt)) return;
    deadline = performance.now() + (expires - servedAt);
    closesAt = deadline + graceMs;
  }

  function checkStatus() {
    return fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) return null;
        var servedAt = Date.parse(response.headers.get("Date"));
        return response.json().then(function (body) { resync(body.payment, servedAt); return body; });
      })
      .then(function (body) { if (body) showStatus(body.payment); })
      .catch(function () { /* offline: the next poll or reconnect tries again */ });
  }

  function setConnection(state, text) {
    connection.dataset.state = state;
    connectionText.textContent = text;
  }

  function startPolling() {
    if (pollTimer === null) pollTimer = window.setInterval(checkStatus, POLL_MS);
  }

  function stopPolling() {
    window.clearInterval(pollTimer);
    pollTimer = null;
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function tick() {
    var left = Math.max(0, Math.round((deadline - performance.now()) / 1000));
    var hours = Math.floor(left / 3600);
    var minutes = Math.floor((left % 3600) / 60);
    var clock = (hours ? hours + ":" + pad(minutes) : pad(minutes)) + ":" + pad(left % 60);
    countdown.textContent = clock;
    countdown.setAttribute("datetime", "PT" + left + "S");
    if (left === 60) announce("Falta um minuto para o código expirar.");
    if (left === 0 && !reachedZero) {
      reachedZero = true;  // ask once now; the live event or the 3 s poll brings the rest
      if (performance.now() < closesAt) showClosing();
      checkStatus();
      startPolling();
    }
  }

  // Polling runs until a subscription is acknowledged: a websocket that opens and then hangs says nothing
  // for the client's 20 s connect timeout, and a paid buyer must not wait that long.
  startPolling();
  // Websocket first; where a proxy or network blocks it, Engine.IO's long-polling instead.
  var socket = io({ transports: ["websocket", "polling"], tryAllTransports: true });
  function subscribe() {
    window.clearTimeout(subscribeRetry);
    socket.timeout(5000).emit("subscribe", { token: token }, function (error, ack) {
      if (!error && ack && ack.ok) {
        subscribeRetryMs = 5000;
        if (!reachedZero) stopPolling();
        return;
      }
      // Refused or unanswered (a busy server, a rate limit): poll meanwhile, and ask again, less often each time.
      startPolling();
      subscribeRetry = window.setTimeout(function () { if (socket.connected) subscribe(); }, subscribeRetryMs);
      subscribeRetryMs = Math.min(subscribeRetryMs * 2, 60000);
    });
  }

  socket.on("connect", function () {
    setConnection("connected", "Conectado · atualização automática");
    subscribe();
  });
  socket.on("disconnect", function () {
    setConnection("reconnecting", "Reconectando… verificando o pagamento a cada 3 s");
    startPolling();
  });
  socket.on("connect_error", function () {
    setConnection("reconnecting", "Sem conexão ao vivo · verificando o pagamento a cada 3 s");
    startPolling();
  });
  socket.on("payment_status", showStatus);

  document.getElementById("copy-button").addEventListener("click", function () {
    var button = this;
    var field = document.getElementById("copy-paste");
    var done = function () {
      announce("Código PIX copiado!");
      button.textContent = "Copiado!";
      window.setTimeout(function () { button.textContent = "Copiar código"; }, 3000);
    };
    // Where the browser refuses to copy, the code is selected for the buyer to copy, and told so.
    var byHand = function () {
      field.select();
      announce("Código selecionado: copie-o pelo menu do seu celular.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, byHand);
    } else {
      field.select();
      if (document.execCommand("copy")) done(); else byHand();
    }
  });

  // Back from the bank's app, where the buyer just paid: ask at once, whatever state the connection is in.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") checkStatus();
  });
  window.addEventListener("pageshow", function (event) { if (event.persisted) checkStatus(); });

  tick();
  window.setInterval(tick, 1000);
  window.setInterval(checkStatus, SAFETY_POLL_MS);
})();
