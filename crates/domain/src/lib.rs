//! The domain of the Integrations Management API: integration templates, their
//! immutable revisions, pipelines and their parameters, the vendor catalog,
//! config validation, secrets handling, revision diffs, and the
//! `{{pipeline_param.KEY}}` substitution engine that an event processor links
//! on its hot path.
//!
//! The crate is pure: no I/O, no database, no HTTP, no clock. Everything here
//! is a value or a function of its arguments, so it is cheap to test and safe
//! to call from any thread.
//!
//! # The substitution engine in one example
//!
//! An event processor compiles each revision's config once and renders it for
//! every pipeline that pins the revision:
//!
//! ```
//! use integrations_domain::substitution::Plan;
//! use integrations_domain::Parameters;
//! use serde_json::json;
//!
//! // Once per revision (when the processor loads or reloads its pipelines).
//! let plan = Plan::compile(json!({
//!     "measurement_id": "{{pipeline_param.ga4_measurement_id}}",
//!     "api_secret": "{{ pipeline_param.ga4_api_secret }}",
//!     "batch_size": "{{pipeline_param.batch}}",
//!     "endpoint": "https://{{pipeline_param.region}}.example.com/collect",
//!     "debug_mode": false
//! }));
//! assert_eq!(plan.keys().collect::<Vec<_>>(), ["batch", "ga4_api_secret", "ga4_measurement_id", "region"]);
//!
//! // Once per pipeline (parameters come from the pipeline object).
//! let web: Parameters = serde_json::from_value(json!({
//!     "ga4_measurement_id": "G-WEB123", "ga4_api_secret": "s3cr3t",
//!     "batch": 25, "region": "eu"
//! })).unwrap();
//! let config = plan.render(&web).unwrap();
//! assert_eq!(*config, json!({
//!     "measurement_id": "G-WEB123",
//!     "api_secret": "s3cr3t",
//!     "batch_size": 25,                       // a whole placeholder keeps the JSON type
//!     "endpoint": "https://eu.example.com/collect",
//!     "debug_mode": false
//! }));
//!
//! // A pipeline that lacks parameters gets every missing key with its path, never a partial config.
//! let app: Parameters = serde_json::from_value(json!({ "batch": 10 })).unwrap();
//! let err = plan.render(&app).unwrap_err();
//! assert_eq!(err.to_string(), "missing pipeline parameters: ga4_api_secret (at config.api_secret), \
//!     ga4_measurement_id (at config.measurement_id), region (at config.endpoint)");
//! ```

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]

pub mod access;
pub mod catalog;
pub mod diff;
pub mod id;
pub mod json_path;
pub mod model;
pub mod name;
pub mod param;
pub mod revision;
pub mod secrets;
pub mod substitution;
pub mod validate;

pub use access::{Action, Caller, Role};
pub use id::{
    AttachmentId, AuditId, EventId, IdError, PipelineId, RevisionId, RolloutId, TemplateId,
};
pub use json_path::JsonPath;
pub use model::{Attachment, Page, PageError, Paged, Pipeline, Revision, Template};
pub use name::{Description, Name, NameQuery, OrgId, TextError, UserId, fold};
pub use param::{
    MAX_PARAM_VALUE_BYTES, MAX_PARAMS, ParamKey, ParamProblem, ParamValue, Parameters,
    SecretParameters, WithSecrets,
};
pub use revision::{DeliveryMode, RevisionNumber};
pub use validate::{
    ConfigProblem, ConfigProblems, MAX_PROBLEMS, Problem, validate_config, validate_rendered,
};
