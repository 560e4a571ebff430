//! The admin console at `/console`: one HTML page, one stylesheet and one
//! ES module, hand-written in `crates/http/console/` and embedded in the
//! binary at compile time. The page is a client of the public JSON API only
//! (same origin, `Authorization: Bearer` on every call); nothing here
//! touches the application. It is not part of the OpenAPI document: it is a
//! page for people, not an API.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};

use super::method_not_allowed;

const INDEX_HTML: &str = include_str!("../../console/index.html");
const CONSOLE_CSS: &str = include_str!("../../console/console.css");
const CONSOLE_JS: &str = include_str!("../../console/console.js");

/// Where the page loads its stylesheet and script from.
pub const STYLE_PATH: &str = "/console/console.css";
pub const SCRIPT_PATH: &str = "/console/console.js";

/// Same origin only, no inline script or style, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in ["/console", "/console/"] {
        cfg.service(
            web::resource(path)
                .route(web::get().to(page))
                .default_service(method_not_allowed("GET")),
        );
    }
    cfg.service(
        web::resource(STYLE_PATH)
            .wrap(actix_web::middleware::Compress::default())
            .route(web::get().to(style))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(SCRIPT_PATH)
            .wrap(actix_web::middleware::Compress::default())
            .route(web::get().to(script))
            .default_service(method_not_allowed("GET")),
    );
}

/// A console response: its type, its body and the headers every console
/// response carries. Revalidated on every load, so an upgraded binary never
/// pairs a new page with an old script.
fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(body)
}

async fn page() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}
