//! The routes, one module per resource.

pub(crate) mod attachments;
pub(crate) mod audit;
pub(crate) mod catalog;
pub(crate) mod console;
pub(crate) mod docs;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod keys;
pub(crate) mod me;
pub(crate) mod pipelines;
mod revision_stream;
pub(crate) mod revisions;
pub(crate) mod rollouts;
pub(crate) mod templates;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::error::{ApiError, allow};

/// A resource's answer to a method it does not support: 405 with `Allow`.
pub(crate) fn method_not_allowed(methods: &'static str) -> actix_web::Route {
    web::to(move || async move {
        let mut response = actix_web::ResponseError::error_response(&ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("this route allows {methods}"),
        ));
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, allow(methods));
        response
    })
}

async fn no_such_route() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such route",
    ))
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    docs::configure(cfg);
    console::configure(cfg);
    cfg.service(
        web::scope("/v1/admin")
            .wrap(actix_web::middleware::from_fn(crate::ratelimit::rate_limit))
            .configure(catalog::configure)
            .configure(templates::configure)
            .configure(revisions::configure)
            .configure(rollouts::configure)
            .configure(pipelines::configure)
            .configure(attachments::configure)
            .configure(events::configure)
            .configure(audit::configure)
            .configure(keys::configure)
            .configure(me::configure)
            .default_service(web::to(no_such_route)),
    );
}
