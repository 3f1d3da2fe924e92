// The operator's pages: hear every payment event in the operators' room over Socket.IO, and then fetch this
// same page again and swap in its live sections, so what is shown is always what the server renders.
(function () {
  "use strict";

  var MIN_REFRESH_MS = 1000;
  // Even with no event: numbers age, and a worker in another process may bury a delivery unheard.
  var IDLE_REFRESH_MS = 15000;
  var live = document.getElementById("operator-live");
  var liveText = document.getElementById("operator-live-text");
  var followed = document.querySelector("[data-live][data-payment]");
  var paymentId = followed ? Number(followed.dataset.payment) : null;
  var connected = false;
  // Tickets last TICKET_HOURS: every page fetched brings a fresh one, for the next time the socket connects.
  var ticket = live.dataset.ticket;
  var refusals = 0;
  var inFlight = false;
  var again = false;
  var lastRefresh = 0;
  var timer = null;

  // In the zone the server writes every other time of the page in (DISPLAY_TIMEZONE), whatever the browser's.
  function time() {
    return new Date().toLocaleTimeString("pt-BR", { timeZone: live.dataset.timeZone });
  }

  function setLive(state, text) {
    live.dataset.state = state;
    liveText.textContent = text;
  }

  function swapSections(fresh) {
    document.querySelectorAll("[data-live][id]").forEach(function (section) {
      var replacement = fresh.getElementById(section.id);
      if (replacement) section.replaceWith(document.importNode(replacement, true));
    });
  }

  function refresh() {
    window.clearTimeout(timer);
    timer = null;
    if (inFlight) { again = true; return; }
    inFlight = true;
    lastRefresh = Date.now();
    fetch(window.location.href, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        swapSections(fresh);
        var freshLive = fresh.getElementById("operator-live");
        if (freshLive) ticket = freshLive.dataset.ticket;
        if (connected) setLive("connected", "Ao vivo · atualizado às " + time());
        // Refused (an expired ticket, a server that restarted with a new token): try again with the fresh one.
        if (!socket.connected && !socket.active) socket.connect();
      })
      .catch(function () { /* offline: the next event or idle refresh tries again */ })
      .then(function () {
        inFlight = false;
        // An event that came while this fetch ran may not be in what it brought: fetch once more.
        if (again) { again = false; schedule(); return; }
        timer = window.setTimeout(refresh, IDLE_REFRESH_MS);
      });
  }

  // At most one fetch a second, however many events arrive: a busy minute costs the server sixty pages.
  function schedule() {
    if (inFlight) { again = true; return; }
    var wait = Math.max(0, lastRefresh + MIN_REFRESH_MS - Date.now());
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, wait);
  }

  var socket = io("/operadores", {
    auth: function (send) { send({ ticket: ticket }); },
    transports: ["websocket", "polling"],
  });
  socket.on("connect", function () {
    connected = true;
    refusals = 0;
    setLive("connected", "Ao vivo");
    schedule(); // whatever happened while disconnected
  });
  socket.on("disconnect", function (reason) {
    connected = false;
    setLive("reconnecting", "Reconectando… atualizando a cada 15 s");
    // The server closed it, as it does when a ticket expires: the page fetched now brings a fresh one.
    if (reason === "io server disconnect") schedule();
  });
  socket.on("connect_error", function () {
    connected = false;
    setLive("reconnecting", "Reconectando… atualizando a cada 15 s");
    // Refused: the next page fetched brings a fresh ticket, and the socket tries it; at once the first time,
    // then with the idle refreshes, so a server that keeps refusing is asked every 15 s, not every second.
    if (!socket.active && ++refusals === 1) schedule();
  });
  socket.on("operacao", function (event) {
    if (paymentId === null || (event && event.payment && event.payment.id === paymentId)) schedule();
  });

  timer = window.setTimeout(refresh, IDLE_REFRESH_MS);
})();
