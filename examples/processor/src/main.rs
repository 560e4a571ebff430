//! A minimal event processor (docs/event-processor.md): it loads the
//! rendered configs of its pipelines — a snapshot — then follows the change
//! feed from the snapshot's `Event-Seq`, reloading a pipeline's configs when
//! an event names it, and starts again from a snapshot when its cursor has
//! expired (410).
//!
//! ```sh
//! SERVICE=$(integrations token --org org_default --sub processor --role service)
//! cargo run -p integrations-processor-example -- --token "$SERVICE"            # every pipeline
//! cargo run -p integrations-processor-example -- --token "$SERVICE" pip_01J…   # just these
//! ```
//!
//! It prints one line per load (`loaded pip_… 2 integrations etag "…"`) and
//! per event; a real processor would swap the configs into its delivery
//! clients instead.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use integrations_domain::PipelineId;
use serde_json::Value;

/// Follows pipelines' rendered configs through the change feed.
#[derive(Debug, Parser)]
struct Args {
    /// The service's base URL.
    #[arg(
        long,
        env = "INTEGRATIONS_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    base: String,
    /// A `service` token (the only role that receives secrets in clear).
    #[arg(long, env = "INTEGRATIONS_TOKEN")]
    token: String,
    /// Stop after this many config loads (for scripts and tests; 0: never).
    #[arg(long, default_value_t = 0)]
    loads: u64,
    /// The pipelines to follow; none: every pipeline of the org, including
    /// those created later.
    pipelines: Vec<String>,
}

/// A pipeline's configs as last loaded.
#[derive(Debug)]
struct Loaded {
    integrations: Vec<Value>,
}

/// What the processor holds.
#[derive(Debug)]
struct Processor {
    agent: ureq::Agent,
    args: Args,
    /// `None` for every pipeline of the org.
    only: Option<Vec<PipelineId>>,
    configs: BTreeMap<PipelineId, Loaded>,
    loads: u64,
}

/// An answer: status, the `Event-Seq` and `ETag` headers, the JSON body.
struct Reply {
    status: u16,
    event_seq: Option<u64>,
    etag: Option<String>,
    body: Value,
}

#[expect(
    clippy::print_stdout,
    reason = "an example: what it does goes to stdout"
)]
fn say(line: &str) {
    println!("{line}");
}

impl Processor {
    fn get(&self, path: &str) -> anyhow::Result<Reply> {
        let request = self
            .agent
            .get(format!("{}{path}", self.args.base))
            .header("Authorization", format!("Bearer {}", self.args.token));
        let mut response = request.call().with_context(|| format!("GET {path}"))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (event_seq, etag) = (
            header("event-seq").and_then(|v| v.parse().ok()),
            header("etag"),
        );
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        };
        Ok(Reply {
            status,
            event_seq,
            etag,
            body,
        })
    }

    /// Every pipeline of the org, by following the list's cursors.
    fn all_pipelines(&self) -> anyhow::Result<Vec<PipelineId>> {
        let mut ids = Vec::new();
        let mut path = "/v1/admin/pipelines?limit=100".to_owned();
        loop {
            let reply = self.get(&path)?;
            if reply.status != 200 {
                bail!("listing pipelines: {} {}", reply.status, reply.body);
            }
            for pipeline in reply.body["pipelines"].as_array().into_iter().flatten() {
                ids.push(pipeline["id"].as_str().unwrap_or_default().parse()?);
            }
            match reply.body["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/admin/pipelines?limit=100&cursor={cursor}"),
                None => return Ok(ids),
            }
        }
    }

    /// (Re)loads a pipeline's configs. Returns the `Event-Seq` the answer
    /// carried.
    ///
    /// Without `If-None-Match`: after an event the configs are read anew. A
    /// server process that has not yet heard of the change (another replica,
    /// milliseconds behind) could otherwise answer 304 from its memory, and
    /// the change would be missed until the next one.
    fn load(&mut self, pipeline: PipelineId) -> anyhow::Result<Option<u64>> {
        let reply = self.get(&format!("/v1/admin/pipelines/{pipeline}/config"))?;
        match reply.status {
            200 => {
                let integrations = reply.body["integrations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let etag = reply.etag.unwrap_or_default();
                say(&format!(
                    "loaded {pipeline} {} integrations etag {etag}",
                    integrations.len()
                ));
                for failed in integrations.iter().filter(|i| i["config"].is_null()) {
                    // Deliver nothing to it, and alert.
                    say(&format!(
                        "  {} cannot render: {}",
                        failed["id"], failed["error"]
                    ));
                }
                self.configs.insert(pipeline, Loaded { integrations });
                self.loads += 1;
            }
            404 => {
                self.configs.remove(&pipeline);
            }
            status => bail!("loading {pipeline}: {status} {}", reply.body),
        }
        Ok(reply.event_seq)
    }

    /// The snapshot: every followed pipeline loaded; returns where to tail
    /// from — the lowest `Event-Seq` among the answers, read before each.
    fn snapshot(&mut self) -> anyhow::Result<u64> {
        self.configs.clear();
        let pipelines = match &self.only {
            Some(only) => only.clone(),
            None => self.all_pipelines()?,
        };
        let mut start = None;
        for pipeline in pipelines {
            if let Some(seq) = self.load(pipeline)? {
                start = Some(start.map_or(seq, |s: u64| s.min(seq)));
            }
        }
        match start {
            Some(seq) => Ok(seq),
            // Nothing to load: where the feed stands now.
            None => Ok(self.get("/v1/admin/events?limit=1")?.event_seq.unwrap_or(0)),
        }
    }

    fn follows(&self, pipeline: PipelineId) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.contains(&pipeline))
    }

    fn done(&self) -> bool {
        self.args.loads > 0 && self.loads >= self.args.loads
    }

    /// Snapshot, then tail; on 410, snapshot again.
    fn run(&mut self) -> anyhow::Result<()> {
        let mut after = self.snapshot()?;
        while !self.done() {
            let reply = match self.get(&format!(
                "/v1/admin/events?after={after}&limit=1000&wait=30"
            )) {
                Ok(reply) => reply,
                Err(err) => {
                    say(&format!("feed unreachable ({err:#}); retrying"));
                    std::thread::sleep(Duration::from_secs(2));
                    continue;
                }
            };
            match reply.status {
                200 => {}
                410 => {
                    say("cursor expired: loading a new snapshot");
                    after = self.snapshot()?;
                    continue;
                }
                503 | 429 => {
                    std::thread::sleep(Duration::from_secs(2));
                    continue;
                }
                status => bail!("reading the feed: {status} {}", reply.body),
            }
            for event in reply.body["events"].as_array().into_iter().flatten() {
                let kind = event["type"].as_str().unwrap_or_default();
                say(&format!(
                    "event {} {kind} {}",
                    event["seq"], event["resource_id"]
                ));
                let named: Vec<PipelineId> = event["pipeline_ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|id| id.as_str()?.parse().ok())
                    .filter(|p| self.follows(*p))
                    .collect();
                for pipeline in named {
                    if kind == "pipeline.deleted" {
                        self.configs.remove(&pipeline);
                        say(&format!("dropped {pipeline}"));
                    } else {
                        self.load(pipeline)?;
                    }
                }
            }
            after = reply.body["next"].as_u64().unwrap_or(after);
            let held: usize = self.configs.values().map(|l| l.integrations.len()).sum();
            say(&format!(
                "at seq {after}: {held} configs for {} pipelines",
                self.configs.len()
            ));
        }
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Ids are checked before any request: a typo fails here, not as a 404.
    let only = if args.pipelines.is_empty() {
        None
    } else {
        Some(
            args.pipelines
                .iter()
                .map(|id| {
                    id.parse::<PipelineId>()
                        .with_context(|| format!("pipeline {id}"))
                })
                .collect::<anyhow::Result<_>>()?,
        )
    };
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        // Above the longest hold (wait=30).
        .timeout_global(Some(Duration::from_secs(45)))
        .build()
        .into();
    Processor {
        agent,
        args,
        only,
        configs: BTreeMap::new(),
        loads: 0,
    }
    .run()
}
