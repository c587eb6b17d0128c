/**
 * The page at /docs: the API's OpenAPI document (GET /openapi.json, from this server)
 * rendered by Swagger UI, which Vite bundles into this page's own chunk at build time:
 * the shop's bundle does not carry it, and the page loads nothing from another origin.
 */
import SwaggerUI from 'swagger-ui-dist/swagger-ui-es-bundle.js';
import 'swagger-ui-dist/swagger-ui.css';
import './docs.css';

SwaggerUI({
  dom_id: '#api-docs',
  url: '/openapi.json',
  // Else Swagger UI shows a badge fetched from validator.swagger.io.
  validatorUrl: null,
  // Never let ?url= or ?configUrl= load another document into a page of this origin.
  queryConfigEnabled: false,
  // A reference, not a client: no "Try it out" that buys or starts sales from here.
  supportedSubmitMethods: [],
  // Each operation has its own address (#/tag/operationId) to link to.
  deepLinking: true,
});
