//! The actix-web adapter of the Integrations Management API: routes,
//! extractors, wire types and the mapping of every error to the one error
//! shape of SPEC §2. It holds no business rule: handlers read the request,
//! call the `app` use cases (off the executor, through [`extract::blocking`])
//! and write the response.

pub mod dto;
pub mod error;
pub mod extract;
pub mod idempotency;
mod routes;

use actix_web::middleware::ErrorHandlers;
use actix_web::{App as ActixApp, web};
use integrations_app::App;

pub use error::ApiError;

/// The largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Registers the application state, the body limit and every route.
pub fn configure(app: App) -> impl Fn(&mut web::ServiceConfig) + Clone {
    let state = web::Data::new(app);
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES));
        routes::configure(cfg);
    }
}

/// The complete actix application: routes plus the error-shape middleware.
pub fn application(
    app: App,
) -> ActixApp<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    ActixApp::new()
        .wrap(ErrorHandlers::new().default_handler(error::rewrite_framework_errors))
        .configure(configure(app))
}
