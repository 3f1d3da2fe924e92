// The paid page takes the buyer back to the shop after a few seconds, unless they choose to stay: a time limit
// the buyer can turn off (WCAG 2.2.1), where a meta refresh could not be stopped.
(function () {
  "use strict";
  var link = document.querySelector("[data-return-after]");
  var notice = document.querySelector("[data-return-countdown]");
  if (!link || !notice) return;
  var left = Number(link.getAttribute("data-return-after"));
  var seconds = notice.querySelector("[data-seconds]");

  function show() { seconds.textContent = left + (left === 1 ? " segundo" : " segundos"); }

  var timer = window.setInterval(function () {
    left -= 1;
    if (left > 0) return show();
    window.clearInterval(timer);
    window.location.assign(link.href);
  }, 1000);
  notice.querySelector("button").addEventListener("click", function () {
    window.clearInterval(timer);
    notice.textContent = "Você fica nesta página. Volte à loja quando quiser.";
    link.focus();
  });
  show();
  notice.hidden = false;
})();
