// Render /openapi.json with the vendored Swagger UI; no validator badge, which would call an outside host.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: root.dataset.url, domNode: root, validatorUrl: null, deepLinking: true });
})();
