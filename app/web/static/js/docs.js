// The API reference (/docs): Swagger UI served by Yuqing itself, reading /openapi.json.
/* global SwaggerUIBundle */
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    validatorUrl: null, // never ask a public validator
    presets: [SwaggerUIBundle.presets.apis],
  });
});
