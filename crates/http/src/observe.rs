//! Observability for every request: a request id (accepted from
//! `X-Request-Id` or made up, echoed back), one structured log line, and
//! Prometheus metrics by route and status. Never a body, a token or a config
//! value in a log line.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use integrations_app::{Counters, Feed};
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The request-id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How many connections the database pool holds and how many are idle.
pub type PoolState = Arc<dyn Fn() -> (u32, u32) + Send + Sync>;

/// The service's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Mirrors `counters.revisions_created()` at each scrape.
    revisions_created: Mirrored,
    pool_open: IntGauge,
    pool_idle: IntGauge,
    pool_state: PoolState,
    counters: Arc<Counters>,
    feed: Feed,
    feed_waiting: IntGauge,
    feed_channel_up: IntGauge,
    feed_fresh: IntGauge,
    feed_lag: prometheus::Gauge,
    feed_published: Mirrored,
    feed_pruned: Mirrored,
    feed_prune_failures: Mirrored,
    feed_last_prune: IntGauge,
    feed_from_memory: Mirrored,
}

/// A Prometheus counter that follows a count kept elsewhere (an atomic the
/// application increments): at each scrape it adds what is new, once, even
/// under concurrent scrapes.
#[derive(Clone)]
struct Mirrored {
    counter: IntCounter,
    shown: Arc<AtomicU64>,
}

impl Mirrored {
    fn new(registry: &Registry, name: &str, help: &str) -> Result<Self, prometheus::Error> {
        let counter = IntCounter::new(name, help)?;
        registry.register(Box::new(counter.clone()))?;
        Ok(Self {
            counter,
            shown: Arc::new(AtomicU64::new(0)),
        })
    }

    fn follow(&self, count: u64) {
        let shown = self.shown.fetch_max(count, Ordering::Relaxed);
        if count > shown {
            self.counter.inc_by(count - shown);
        }
    }
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
    let gauge = IntGauge::new(name, help)?;
    registry.register(Box::new(gauge.clone()))?;
    Ok(gauge)
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Registers every metric; `pool_state` and the application's
    /// `counters` are read at each scrape.
    ///
    /// # Errors
    /// Only if two metrics had the same name (a bug).
    pub fn new(
        pool_state: PoolState,
        counters: Arc<Counters>,
        feed: Feed,
    ) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests served, by route pattern, method and status.",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to serve an HTTP request, by route pattern, method and status.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route", "method", "status"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        let feed_lag = prometheus::Gauge::new(
            "feed_event_lag_seconds",
            "Between the last event's time and its publication to this process's waiters.",
        )?;
        registry.register(Box::new(feed_lag.clone()))?;
        Ok(Self {
            revisions_created: Mirrored::new(
                &registry,
                "revisions_created_total",
                "Revisions created (by create, restore or install).",
            )?,
            pool_open: gauge(
                &registry,
                "db_pool_connections",
                "Database connections the pool holds open.",
            )?,
            pool_idle: gauge(
                &registry,
                "db_pool_idle_connections",
                "Open database connections not in use.",
            )?,
            feed_waiting: gauge(
                &registry,
                "feed_waiting_requests",
                "Requests held waiting for a change: long polls, config watches and event streams.",
            )?,
            feed_channel_up: gauge(
                &registry,
                "feed_listener_up",
                "1 while the connection listening for other processes' changes is up (always 0 on SQLite).",
            )?,
            feed_fresh: gauge(
                &registry,
                "feed_fresh",
                "1 while the feed vouches for every change up to a moment ago (config polls may be answered from memory).",
            )?,
            feed_lag,
            feed_published: Mirrored::new(
                &registry,
                "feed_events_published_total",
                "Events this process read from the database and published to its waiters.",
            )?,
            feed_pruned: Mirrored::new(
                &registry,
                "feed_events_pruned_total",
                "Events pruned by this process.",
            )?,
            feed_prune_failures: Mirrored::new(
                &registry,
                "feed_prune_failures_total",
                "Pruning runs that failed (the database did not answer).",
            )?,
            feed_last_prune: gauge(
                &registry,
                "feed_last_prune_timestamp_seconds",
                "Unix time of the last pruning run that completed (0: none yet).",
            )?,
            feed_from_memory: Mirrored::new(
                &registry,
                "feed_config_polls_answered_from_memory_total",
                "Pipeline-config polls answered 304 without the database.",
            )?,
            registry,
            requests,
            latency,
            pool_state,
            counters,
            feed,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let (open, idle) = (self.pool_state)();
        self.pool_open.set(i64::from(open));
        self.pool_idle.set(i64::from(idle));
        // The use cases count (crates/app/src/metrics.rs, feed.rs); the
        // counters here catch up with them.
        self.revisions_created
            .follow(self.counters.revisions_created());
        let stats = self.feed.stats();
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        self.feed_waiting.set(stats.waiting.load(Ordering::Relaxed));
        self.feed_channel_up
            .set(i64::from(stats.channel_up.load(Ordering::Relaxed)));
        self.feed_fresh.set(i64::from(self.feed.fresh()));
        #[expect(clippy::cast_precision_loss, reason = "milliseconds well within f64")]
        self.feed_lag.set(load(&stats.lag_ms) as f64 / 1000.0);
        self.feed_published.follow(load(&stats.published));
        self.feed_pruned.follow(load(&stats.pruned));
        self.feed_prune_failures.follow(load(&stats.prune_failures));
        self.feed_last_prune
            .set(stats.last_prune.load(Ordering::Relaxed));
        self.feed_from_memory
            .follow(load(&stats.answered_from_memory));
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Whether a client-sent request id is safe to echo and log.
fn usable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The middleware.
///
/// # Errors
/// Only what the wrapped service returns.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| usable(v))
        .map_or_else(|| ulid::Ulid::generate().to_string(), str::to_owned);
    // Only the standard methods become label values: a made-up one must not grow the metrics.
    let method = match req.method().as_str() {
        known @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => {
            known.to_owned()
        }
        _ => "OTHER".to_owned(),
    };
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let mut response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status();
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        let labels = [route.as_str(), method.as_str(), status.as_str()];
        metrics.requests.with_label_values(&labels).inc();
        metrics
            .latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::error!(request_id = %id, method = %method, route = %route, status = status.as_u16(), duration_ms, "request failed");
    } else {
        tracing::info!(request_id = %id, method = %method, route = %route, status = status.as_u16(), duration_ms, "request");
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// `GET /metrics`.
pub async fn metrics(metrics: web::Data<Metrics>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_and_plain() {
        assert!(usable("01J9Z6Q4K9") && usable("a-b_c.d:e"));
        for bad in ["", "a b", "a\nb", "ünï", &"x".repeat(129)] {
            assert!(!usable(bad), "{bad:?}");
        }
    }

    #[test]
    fn metrics_render_in_text_format() {
        let counters = Arc::new(Counters::default());
        let metrics = Metrics::new(Arc::new(|| (3, 2)), Arc::clone(&counters), Feed::new())
            .expect("registered");
        metrics
            .requests
            .with_label_values(&["/x", "GET", "200"])
            .inc();
        let text = metrics.render();
        assert!(
            text.contains("http_requests_total{method=\"GET\",route=\"/x\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("db_pool_connections 3") && text.contains("db_pool_idle_connections 2"),
            "{text}"
        );
        assert!(text.contains("revisions_created_total 0\n"), "{text}");
    }
}
