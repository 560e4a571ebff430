//! The integration catalog: every vendor this service knows, with the fields a
//! revision's config may hold and the ready-made variants a template can be
//! installed from.
//!
//! The catalog is static data compiled into the crate (one JSON file per vendor
//! under `catalog/`, embedded with `include_str!`) and parsed once on first use.
//! A unit test parses and cross-checks every file, so a malformed vendor file
//! fails `cargo test`, never a request.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a vendor does, for filtering the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Ad platforms receiving conversions (Meta, Google Ads, `TikTok`…).
    Advertising,
    /// Product and web analytics (GA4, Mixpanel…).
    Analytics,
    /// Mobile measurement and attribution partners.
    Attribution,
    /// Customer data platforms and engagement tools.
    Cdp,
    /// Warehouses and object stores (`BigQuery`, S3…).
    CloudStorage,
    /// Everything else (webhooks, chat notifications…).
    Other,
}

impl Category {
    /// Every category, in catalog order.
    pub const ALL: [Self; 6] = [
        Self::Advertising,
        Self::Analytics,
        Self::Attribution,
        Self::Cdp,
        Self::CloudStorage,
        Self::Other,
    ];

    /// The wire name (`cloud_storage`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Advertising => "advertising",
            Self::Analytics => "analytics",
            Self::Attribution => "attribution",
            Self::Cdp => "cdp",
            Self::CloudStorage => "cloud_storage",
            Self::Other => "other",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// Whether a vendor integration is generally available or still in beta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Generally available.
    Ga,
    /// Usable, but its fields may still change.
    Beta,
}

/// The declared type of a config field; [`crate::validate_config`] enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A single-line string.
    String,
    /// A credential: a string that is encrypted at rest and masked in responses.
    Secret,
    /// A multi-line string.
    Textarea,
    /// Any JSON number.
    Number,
    /// A JSON number without a fractional part.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A string that must be one of the field's `options`.
    Select,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
}

/// One field of a vendor's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigField {
    /// The top-level key in a revision's `config`.
    pub key: String,
    /// A human label for forms.
    pub label: String,
    /// The declared type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Whether a config must hold a non-null value for this key.
    pub required: bool,
    /// The value a form should pre-fill, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The allowed values of a `select` field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// Example input for forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// One sentence of guidance for forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_text: Option<String>,
    /// For an `object` field: every value of the object is a credential
    /// (sealed at rest, masked in responses, kept per key when echoed as
    /// `"***"`), while its keys stay readable — e.g. the webhook's `headers`,
    /// header name → value. Absent (false) for every other field.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret_values: bool,
}

/// A ready-made starting configuration of a vendor (every vendor has `default`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// The variant key (`default`, `retail`…), unique within its vendor.
    pub key: String,
    /// A human name.
    pub name: String,
    /// What the variant is for.
    pub description: String,
    /// The config revision 1 starts from when a template is installed from it.
    pub default_config: Map<String, Value>,
}

/// A vendor of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vendor {
    /// The vendor key (`meta_capi`), which templates reference as `vendor`.
    pub key: String,
    /// A human name.
    pub name: String,
    /// What the destination does.
    pub description: String,
    /// What kind of destination it is.
    pub category: Category,
    /// Generally available or beta.
    pub status: Status,
    /// The vendor's home page.
    pub website: String,
    /// The fields a config may hold.
    pub config_fields: Vec<ConfigField>,
    /// Ready-made starting configurations.
    pub variants: Vec<Variant>,
}

impl Vendor {
    /// The field declared under `key`, if any.
    pub fn field(&self, key: &str) -> Option<&ConfigField> {
        self.config_fields.iter().find(|f| f.key == key)
    }

    /// The variant with that key, if any.
    pub fn variant(&self, key: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.key == key)
    }

    /// The keys of the fields declared as [`FieldType::Secret`].
    pub fn secret_keys(&self) -> impl Iterator<Item = &str> {
        self.config_fields
            .iter()
            .filter(|f| f.field_type == FieldType::Secret)
            .map(|f| f.key.as_str())
    }

    /// The keys of the `object` fields whose values are secrets
    /// ([`ConfigField::secret_values`]).
    pub fn secret_value_keys(&self) -> impl Iterator<Item = &str> {
        self.config_fields
            .iter()
            .filter(|f| f.secret_values)
            .map(|f| f.key.as_str())
    }
}

/// The embedded vendor files, in catalog order.
const VENDOR_FILES: &[(&str, &str)] = &[
    ("meta_capi", include_str!("../../catalog/meta_capi.json")),
    ("ga4", include_str!("../../catalog/ga4.json")),
    ("google_ads", include_str!("../../catalog/google_ads.json")),
    ("tiktok", include_str!("../../catalog/tiktok.json")),
    ("pinterest", include_str!("../../catalog/pinterest.json")),
    ("snapchat", include_str!("../../catalog/snapchat.json")),
    ("linkedin", include_str!("../../catalog/linkedin.json")),
    ("reddit", include_str!("../../catalog/reddit.json")),
    ("mixpanel", include_str!("../../catalog/mixpanel.json")),
    ("amplitude", include_str!("../../catalog/amplitude.json")),
    ("appsflyer", include_str!("../../catalog/appsflyer.json")),
    ("braze", include_str!("../../catalog/braze.json")),
    ("bigquery", include_str!("../../catalog/bigquery.json")),
    ("s3", include_str!("../../catalog/s3.json")),
    ("webhook", include_str!("../../catalog/webhook.json")),
    ("slack", include_str!("../../catalog/slack.json")),
];

static CATALOG: LazyLock<Vec<Vendor>> = LazyLock::new(|| {
    VENDOR_FILES
        .iter()
        .map(|(key, text)| match serde_json::from_str::<Vendor>(text) {
            Ok(vendor) => vendor,
            // The `catalog_files_parse` test parses every file, so this is unreachable
            // in any build whose tests passed.
            Err(err) => panic!("catalog/{key}.json is invalid: {err}"),
        })
        .collect()
});

/// Every vendor, in catalog order.
pub fn vendors() -> &'static [Vendor] {
    &CATALOG
}

/// The vendor with that key, if the catalog has it.
///
/// ```
/// let meta = integrations_domain::catalog::vendor("meta_capi").unwrap();
/// assert!(meta.secret_keys().any(|k| k == "access_token"));
/// assert!(integrations_domain::catalog::vendor("myspace").is_none());
/// ```
pub fn vendor(key: &str) -> Option<&'static Vendor> {
    CATALOG.iter().find(|v| v.key == key)
}

/// The vendors of one category, in catalog order.
pub fn vendors_in(category: Category) -> impl Iterator<Item = &'static Vendor> {
    CATALOG.iter().filter(move |v| v.category == category)
}

#[cfg(test)]
mod tests;
