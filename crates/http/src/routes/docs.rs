//! `GET /openapi.json` and the API reference at `/docs`, whose script is
//! vendored in `assets/` and embedded in the binary: the page works offline.

use std::sync::LazyLock;

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};

use super::method_not_allowed;
use crate::openapi::{Internal, document};

/// The vendored web component that renders the page (see `assets/README.md`).
const RAPIDOC_JS: &[u8] = include_bytes!("../../assets/rapidoc-min.js");
/// Its version, in the script URL so that an upgrade is never hidden by a cached copy.
const RAPIDOC_VERSION: &str = "9.3.8";
/// Where the page loads the script from.
pub const SCRIPT_PATH: &str = "/docs/rapidoc-min.js";

/// The document, rendered once.
static DOCUMENT: LazyLock<Result<String, String>> =
    LazyLock::new(|| document().to_json().map_err(|err| err.to_string()));

static PAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Integrations Management API reference</title>
  <script type="module" src="{SCRIPT_PATH}?v={RAPIDOC_VERSION}"></script>
</head>
<body>
  <rapi-doc
    spec-url="/openapi.json"
    render-style="read"
    show-header="false"
    allow-authentication="true"
    allow-spec-url-load="false"
    allow-spec-file-load="false"
    persist-auth="false"
    schema-style="table"
    schema-description-expanded="true"
    default-schema-tab="schema"
    regular-font="system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
    mono-font="ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace"
  ></rapi-doc>
</body>
</html>
"#
    )
});

/// Same-origin only: the page can load nothing from elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/openapi.json")
            .route(web::get().to(openapi_json))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/docs")
            .route(web::get().to(docs_page))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(SCRIPT_PATH)
            .wrap(actix_web::middleware::Compress::default())
            .route(web::get().to(docs_script))
            .default_service(method_not_allowed("GET")),
    );
}

/// The OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    summary = "This OpenAPI document",
    description = "The same document `integrations openapi` prints.",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json"),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn openapi_json() -> Result<HttpResponse, crate::ApiError> {
    let json = DOCUMENT.as_ref().map_err(|err| {
        crate::ApiError::internal(&std::io::Error::other(format!(
            "rendering the OpenAPI document: {err}"
        )))
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(json.as_str()))
}

/// The interactive API reference.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "operations",
    operation_id = "docs",
    summary = "The interactive API reference",
    description = "An HTML page that renders `/openapi.json`; it loads nothing from elsewhere.",
    responses(
        (status = 200, description = "The page.", content_type = "text/html"),
    ),
)]
pub(crate) async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(PAGE.as_str())
}

/// The page's script, cached for a year.
#[utoipa::path(
    get,
    path = "/docs/rapidoc-min.js",
    tag = "operations",
    operation_id = "docsScript",
    summary = "The reference page's script",
    description = "RapiDoc, vendored and served by the binary itself.",
    responses(
        (status = 200, description = "The script.", content_type = "text/javascript"),
    ),
)]
pub(crate) async fn docs_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(365 * 24 * 60 * 60),
            CacheDirective::Extension("immutable".into(), None),
        ]))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(RAPIDOC_JS)
}
