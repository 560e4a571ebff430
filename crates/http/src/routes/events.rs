//! `GET /v1/admin/events` (docs/api.md, "Events"): the change feed, as pages
//! (with an optional long poll) or as a Server-Sent Events stream.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{
    App, EventFilter, EventPage, EventQuery, Held, MAX_EVENTS, MAX_EXAMINED, Woken,
};
use integrations_domain::{Caller, PipelineId};
use integrations_ports::{Event, EventType};
use serde::Deserialize;
use tokio::time::Instant;

use super::method_not_allowed;
use crate::dto::events::{EventListResponse, EventResponse};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{Authenticated, Permitted, ToRead, blocking, query};
use crate::openapi::params::{EventParams, LastEventIdHeader};
use crate::openapi::{AdminErrors, BadRequest};

/// The header that carries the org's newest event number.
pub(crate) const EVENT_SEQ: &str = "Event-Seq";

/// The longest a request may be held (`wait`), in seconds.
pub(crate) const MAX_WAIT_SECONDS: i64 = 60;

/// How often a stream with nothing to send sends a comment.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// Events per page unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/events")
            .route(web::get().to(list))
            .default_service(method_not_allowed("GET")),
    );
}

/// The query string as given; checked by [`EventsRequest::parse`].
#[derive(Debug, Deserialize)]
struct RawQuery {
    after: Option<i64>,
    limit: Option<i64>,
    types: Option<String>,
    pipeline_id: Option<String>,
    wait: Option<i64>,
}

/// A checked request for events.
struct EventsRequest {
    query: EventQuery,
    wait: Duration,
}

fn invalid(field: &'static str, problem: &'static str, message: String) -> ApiError {
    ApiError::from(integrations_app::AppError::invalid(field, problem, message))
}

/// `wait=S`: 0 to 60 seconds (absent: 0).
pub(crate) fn wait_seconds(wait: Option<i64>) -> Result<Duration, ApiError> {
    match wait {
        None => Ok(Duration::ZERO),
        Some(s @ 0..=MAX_WAIT_SECONDS) => Ok(Duration::from_secs(s.unsigned_abs())),
        Some(s) => Err(invalid(
            "wait",
            "out_of_range",
            format!("wait must be 0 to {MAX_WAIT_SECONDS} seconds, not {s}"),
        )),
    }
}

impl EventsRequest {
    fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        let raw = query::<RawQuery>(req)?;
        let after = match raw.after {
            None => None,
            Some(after) => Some(u64::try_from(after).map_err(|_| {
                invalid(
                    "after",
                    "out_of_range",
                    format!("after must be 0 or more, not {after}"),
                )
            })?),
        };
        let limit = match raw.limit {
            None => DEFAULT_LIMIT,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_EVENTS).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "limit",
                        "out_of_range",
                        format!("limit must be 1 to {MAX_EVENTS}, not {n}"),
                    )
                })?,
        };
        let mut types = Vec::new();
        for name in raw.types.iter().flat_map(|t| t.split(',')).map(str::trim) {
            if name.is_empty() {
                continue;
            }
            let kind = name.parse::<EventType>().map_err(|_| {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                invalid(
                    "types",
                    "invalid_value",
                    format!(
                        "unknown event type '{}': expected a comma-separated list of {}",
                        name.chars().take(64).collect::<String>(),
                        known.join(", ")
                    ),
                )
            })?;
            if !types.contains(&kind) {
                types.push(kind);
            }
        }
        let pipeline = raw
            .pipeline_id
            .map(|id| {
                id.parse::<PipelineId>()
                    .map_err(|err| invalid("pipeline_id", "invalid_value", err.to_string()))
            })
            .transpose()?;
        Ok(Self {
            query: EventQuery {
                after,
                limit,
                filter: Arc::new(EventFilter { types, pipeline }),
            },
            wait: wait_seconds(raw.wait)?,
        })
    }
}

/// `Last-Event-ID`: the `seq` a reconnecting stream saw last.
fn last_event_id(req: &HttpRequest) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get("Last-Event-ID") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            invalid(
                "Last-Event-ID",
                "invalid_value",
                "Last-Event-ID must be the seq of an event (a whole number)".to_owned(),
            )
        })
}

fn wants_stream(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/event-stream"))
}

/// The `Event-Seq` header's value.
pub(crate) fn event_seq_header(seq: u64) -> (&'static str, HeaderValue) {
    (EVENT_SEQ, HeaderValue::from(seq))
}

#[utoipa::path(
    get,
    path = "/v1/admin/events",
    tag = "events",
    operation_id = "listEvents",
    summary = "Read the change feed",
    description = "Every committed change of the org, lowest `seq` first; `seq` increases in \
        commit order, so `after=next` never misses a change. `wait=S` holds an empty answer until \
        a matching event commits (in any process) or S seconds pass. With \
        `Accept: text/event-stream` the answer is a Server-Sent Events stream (`id:` = seq, \
        `event:` = type, `data:` = the event), resumed from `Last-Event-ID` or `after`, with a \
        comment every 15 s. Below the oldest kept event: 410 `CURSOR_EXPIRED`. Any role, \
        `service` included.",
    params(EventParams, LastEventIdHeader),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Events (or a stream of them), with the org's newest `seq` in `Event-Seq`.",
            body = EventListResponse, headers(
            ("Event-Seq" = u64, description = "The org's newest event number when the answer was read."),
        )),
        (status = 400, response = BadRequest),
        (status = 410, description = "`CURSOR_EXPIRED`: the events after `after` were pruned; \
            `details[0].oldest` is the lowest `seq` still kept. Read a snapshot and tail from its `Event-Seq`.",
            body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: `after`, `limit`, `types`, `pipeline_id`, \
            `wait` or `Last-Event-ID` invalid.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn list(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToRead>,
    Authenticated(token): Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let EventsRequest { mut query, wait } = EventsRequest::parse(&req)?;
    let app = app.get_ref().clone();
    // Checked on every request, used by a stream only.
    let seen = last_event_id(&req)?;
    if wants_stream(&req) {
        if seen.is_some() {
            query.after = seen;
        }
        // A stream lives no longer than the token it was opened with: the
        // client reconnects, and a token that has expired meanwhile is 401.
        return stream(app, caller, query, token.expires_at).await;
    }
    let deadline = Instant::now() + wait;
    let mut page = read(&app, &caller, &query).await?;
    // What every read of this request examined: once past the bound, an
    // empty page is answered with its `next` rather than read on from, so
    // a filter that matches nothing never walks the whole backlog in one
    // request.
    let mut examined = page.examined;
    // A place among the user's held requests, taken before the first wait
    // and given back with the answer.
    let mut held = None;
    while page.events.is_empty() && examined < MAX_EXAMINED && !app.feed().closing() {
        let Some(left) = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            break;
        };
        if held.is_none() {
            held = Some(app.hold(&caller)?);
        }
        let woken = tokio::time::timeout(
            left,
            app.wait_for_events(&caller.org, page.next, &query.filter),
        )
        .await;
        if !matches!(woken, Ok(Woken::Changed)) {
            break;
        }
        let next = page.next;
        // What lay between `after` and `next` did not match: read on from there.
        query.after = if next == 0 { query.after } else { Some(next) };
        page = read(&app, &caller, &query).await?;
        examined += page.examined;
        if page.events.is_empty() && page.next < next {
            page.next = next;
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header(event_seq_header(page.event_seq))
        .json(EventListResponse {
            next: page.next,
            events: page.events.into_iter().map(EventResponse::from).collect(),
        }))
}

async fn read(app: &App, caller: &Caller, query: &EventQuery) -> Result<EventPage, ApiError> {
    let (app, caller, query) = (app.clone(), caller.clone(), query.clone());
    blocking(move || app.events(&caller, &query)).await
}

/// One event as a Server-Sent Events frame.
fn frame(event: Event) -> Bytes {
    let (seq, kind) = (event.seq, event.event_type.as_str());
    let data = serde_json::to_string(&EventResponse::from(event)).unwrap_or_default();
    Bytes::from(format!("id: {seq}\nevent: {kind}\ndata: {data}\n\n"))
}

/// Where a stream stands.
struct Streaming {
    app: App,
    caller: Caller,
    query: EventQuery,
    /// When the caller's token stops being accepted: the stream ends then.
    until: Instant,
    ready: VecDeque<Event>,
    /// The highest `seq` examined so far.
    cursor: u64,
    /// Events examined since the stream last sent something: past
    /// [`MAX_EXAMINED`], it sends a checkpoint before reading on.
    examined: u64,
    /// The stream's place among its user's held requests, given back when
    /// the stream ends (or the client goes away).
    _held: Held,
}

/// A frame that moves the client's `Last-Event-ID` to `seq` without an
/// event: everything up to it was examined and nothing more matched. A
/// client that reconnects resumes from there.
fn checkpoint(seq: u64) -> Bytes {
    Bytes::from(format!(": examined up to {seq}\nid: {seq}\n\n"))
}

/// The stream: what the first read found, then each event as it commits,
/// a comment every [`HEARTBEAT`] while idle, and a [`checkpoint`] after each
/// [`MAX_EXAMINED`] events examined without one matching (so a turn of the
/// stream reads a bounded number of events); it ends when the process shuts
/// down or the database stops answering (the client resumes with
/// `Last-Event-ID`). A cursor below the oldest kept is refused before the
/// stream starts, as JSON.
async fn stream(
    app: App,
    caller: Caller,
    query: EventQuery,
    expires_at: time::OffsetDateTime,
) -> Result<HttpResponse, ApiError> {
    let held = app.hold(&caller)?;
    let first = read(&app, &caller, &query).await?;
    let event_seq = first.event_seq;
    // As long as the token is accepted: its expiry plus the clocks' leeway.
    let left = expires_at + integrations_ports::TOKEN_LEEWAY - time::OffsetDateTime::now_utc();
    let until = Instant::now() + Duration::try_from(left).unwrap_or(Duration::ZERO);
    let state = Streaming {
        _held: held,
        examined: first.examined,
        cursor: first.next,
        ready: first.events.into(),
        app,
        caller,
        query,
        until,
    };
    let opening = futures_util::stream::once(async {
        Ok::<_, actix_web::Error>(Bytes::from_static(b"retry: 1000\n\n"))
    });
    let events = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(event) = st.ready.pop_front() {
                st.examined = 0;
                return Some((Ok::<_, actix_web::Error>(frame(event)), st));
            }
            if st.examined >= MAX_EXAMINED {
                // A turn has read its share: say how far it got, and let
                // the client's side of the connection have its turn.
                st.examined = 0;
                return Some((Ok(checkpoint(st.cursor)), st));
            }
            if st.app.feed().closing() {
                return None;
            }
            // A stream lives no longer than its token: it waits at most
            // until the token expires, then ends.
            let now = Instant::now();
            if st.until <= now {
                return None;
            }
            let wait = HEARTBEAT.min(st.until - now);
            let woken = tokio::time::timeout(
                wait,
                st.app
                    .wait_for_events(&st.caller.org, st.cursor, &st.query.filter),
            )
            .await;
            match woken {
                Err(_) if wait < HEARTBEAT => {}
                Err(_) => return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), st)),
                Ok(Woken::Closing) => return None,
                Ok(Woken::Changed) => {
                    if st.cursor > 0 {
                        st.query.after = Some(st.cursor);
                    }
                    let page = read(&st.app, &st.caller, &st.query).await.ok()?;
                    st.cursor = st.cursor.max(page.next);
                    st.examined += page.examined;
                    st.ready.extend(page.events);
                }
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Never compressed: a compressor would hold events back.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
        .insert_header(event_seq_header(event_seq))
        .streaming(futures_util::StreamExt::chain(opening, events)))
}
