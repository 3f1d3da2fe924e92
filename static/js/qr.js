// The QR code at the largest size that fits in which every module is a whole number of the screen's pixels,
// placed on a whole pixel: scaled by a fraction or placed between pixels (a narrow phone, a 125 % or 150 %
// display), some modules would come out a pixel wider than others.
(function () {
  "use strict";
  var qr = document.querySelector(".qr[data-modules]");
  if (!qr) return;
  var modules = Number(qr.dataset.modules);
  var largest = Number(qr.getAttribute("width"));

  function offset(position, ratio) {
    return (Math.round(position * ratio) - position * ratio) / ratio + "px";
  }

  function fit() {
    var ratio = window.devicePixelRatio || 1;
    var room = Math.min(largest, qr.parentElement.clientWidth) * ratio;
    qr.style.width = qr.style.height = (Math.max(1, Math.floor(room / modules)) * modules) / ratio + "px";
    qr.style.left = qr.style.top = "0px";
    var box = qr.getBoundingClientRect();
    qr.style.left = offset(box.left, ratio);
    qr.style.top = offset(box.top, ratio);
  }

  fit();
  // Rotating the phone, zooming or moving to another screen changes the room or the pixel ratio.
  window.addEventListener("resize", fit);
})();
