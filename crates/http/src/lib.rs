//! The actix-web adapter of the Integrations Management API: routes,
//! extractors, wire types and the mapping of every error to the one error
//! shape of docs/api.md "Conventions" and "Errors". It holds no business rule: handlers read the request,
//! call the `app` use cases (off the executor, through `extract::blocking`)
//! and write the response.

pub(crate) mod body;
pub(crate) mod dto;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod idempotency;
pub(crate) mod observe;
pub mod openapi;
pub(crate) mod paging;
pub(crate) mod ratelimit;
mod routes;

use actix_web::middleware::ErrorHandlers;
use actix_web::{App as ActixApp, web};
use integrations_app::App;

pub use error::ApiError;
pub use observe::PoolState;

/// The largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How the HTTP adapter is set up.
#[derive(Clone)]
pub struct HttpOptions {
    /// Requests per user and minute (`RATE_LIMIT_PER_MINUTE`); 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Requests per `service` user and minute (`SERVICE_RATE_LIMIT_PER_MINUTE`);
    /// 0 turns the limit off.
    pub service_rate_limit_per_minute: u32,
    /// Failed authentications per client address and minute
    /// (`AUTH_FAILURES_PER_MINUTE`); 0 turns the limit off.
    pub auth_failures_per_minute: u32,
    /// Reads the database pool's (open, idle) connections for the metrics.
    pub pool_state: PoolState,
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field(
                "service_rate_limit_per_minute",
                &self.service_rate_limit_per_minute,
            )
            .field("auth_failures_per_minute", &self.auth_failures_per_minute)
            .finish_non_exhaustive()
    }
}

/// What every worker shares: the application, the metrics, the rate limiter.
#[derive(Debug, Clone)]
pub struct HttpState {
    app: web::Data<App>,
    metrics: web::Data<observe::Metrics>,
    rate_limit: web::Data<ratelimit::RateLimit>,
}

impl HttpState {
    /// Builds the shared state once per process.
    ///
    /// # Errors
    /// Only if the metrics cannot be registered (a bug).
    pub fn new(app: App, options: HttpOptions) -> Result<Self, prometheus::Error> {
        let metrics =
            observe::Metrics::new(options.pool_state, app.counters(), app.feed().clone())?;
        Ok(Self {
            app: web::Data::new(app),
            metrics: web::Data::new(metrics),
            rate_limit: web::Data::new(ratelimit::RateLimit::new(ratelimit::Limits {
                per_user: options.rate_limit_per_minute,
                per_service: options.service_rate_limit_per_minute,
                auth_failures: options.auth_failures_per_minute,
            })),
        })
    }
}

/// The complete actix application of one worker: routes, limits, the error
/// shape, request ids, logs and metrics.
pub fn application(
    state: HttpState,
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
        .app_data(state.app)
        .app_data(state.metrics)
        .app_data(state.rate_limit)
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .configure(routes::configure)
        .service(
            web::resource("/metrics")
                .route(web::get().to(observe::metrics))
                .default_service(routes::method_not_allowed("GET")),
        )
        .wrap(ErrorHandlers::new().default_handler(error::rewrite_framework_errors))
        .wrap(actix_web::middleware::from_fn(observe::observe))
        .wrap(actix_web::middleware::from_fn(body::track_bodies))
}
