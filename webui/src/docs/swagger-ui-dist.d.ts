/** The part of Swagger UI's bundle (swagger-ui-dist, which ships no types) the docs page uses. */
declare module 'swagger-ui-dist/swagger-ui-es-bundle.js' {
  export interface SwaggerUIOptions {
    dom_id: string;
    url: string;
    validatorUrl: string | null;
    queryConfigEnabled: boolean;
    supportedSubmitMethods: readonly string[];
    deepLinking: boolean;
  }

  export default function SwaggerUI(options: SwaggerUIOptions): unknown;
}
