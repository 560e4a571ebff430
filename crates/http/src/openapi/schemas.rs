//! Schemas the derives cannot infer from the Rust types: the rules of names,
//! ids and vendor keys, and the wire shape of the catalog (whose types live in
//! the domain crate, which stays free of `utoipa`).

use integrations_domain::catalog;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Array, OneOfBuilder};

/// Characters Rust's `str::trim` removes (Unicode `White_Space`).
const WHITESPACE: &str =
    r"\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// Unicode format characters (general category `Cf`: zero-width and
/// bidirectional controls…), which names refuse. Astral ones are written
/// `\UXXXXXXXX`, as Rust's `regex` and Python's `re` read them.
const FORMAT: &str = concat!(
    r"\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u180E\u200B-\u200F",
    r"\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB\U000110BD\U000110CD",
    r"\U00013430-\U0001343F\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0001",
    r"\U000E0020-\U000E007F",
);

/// A name (docs/api.md, "Integration templates"): after trimming white space, 1 to 200 characters with no
/// control character and no format character. The pattern says exactly that,
/// so a client can check a name before sending it.
pub fn name() -> Object {
    let visible = format!(
        r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000{FORMAT}]"
    );
    let inner = format!(r"[^\u0000-\u001F\u007F-\u009F{FORMAT}]");
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^[{WHITESPACE}]*{visible}(?:{inner}{{0,198}}{visible})?[{WHITESPACE}]*$"
        )))
        .description(Some(
            "1 to 200 characters after trimming surrounding white space, no control \
             characters and no invisible or direction-changing (Unicode `Cf`) characters; \
             stored in Unicode NFC; unique in the organisation among live objects, compared \
             case-insensitively in NFC (409 `NAME_TAKEN`).",
        ))
        .examples(["GA4 web"])
        .build()
}

/// A free text of at most 2,000 characters, or `null`.
pub fn nullable_text() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(2000))
        // Tabs and line breaks are fine; other control characters are 422.
        .pattern(Some(
            r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$",
        ))
        .description(Some(
            "At most 2,000 characters; tabs and line breaks allowed, other control characters not.",
        ))
        .build()
}

/// A catalog vendor key: one of the keys the catalog holds.
pub fn vendor_key() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(catalog::vendors().iter().map(|v| v.key.clone())))
        .description(Some(
            "A vendor key of the integration catalog (`GET /v1/admin/integration-catalog`).",
        ))
        .examples(["meta_capi"])
        .build()
}

/// An id as the server writes it: the prefix and a canonical (upper-case) ULID.
fn id(prefix: &str, example: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^{prefix}[0-9A-HJKMNP-TV-Z]{{26}}$")))
        .examples([example])
        .build()
}

/// A template id (`tmpl_` + ULID).
pub fn template_id() -> Object {
    id("tmpl_", "tmpl_01JN3Z5K8V6W0XQ4R2T7YB9CDE")
}

/// A revision id (`rev_` + ULID).
pub fn revision_id() -> Object {
    id("rev_", "rev_01JN3Z6A1B2C3D4E5F6G7H8J9K")
}

/// A pipeline id (`pip_` + ULID).
pub fn pipeline_id() -> Object {
    id("pip_", "pip_01JN3Z7M4N5P6Q7R8S9T0V1W2X")
}

/// A pipeline-integration id (`pi_` + ULID).
pub fn attachment_id() -> Object {
    id("pi_", "pi_01JN3Z8Y3Z4A5B6C7D8E9F0G1H")
}

/// A rollout id (`ro_` + ULID).
pub fn rollout_id() -> Object {
    id("ro_", "ro_01JN3ZA4B5C6D7E8F9G0H1J2K3")
}

/// An audit-entry id (`log_` + ULID).
pub fn audit_id() -> Object {
    id("log_", "log_01JN3Z9J2K3M4N5P6Q7R8S9T0V")
}

/// A reference to another object in a request body: an id of that kind, in
/// either case (anything else, or an object that is not there, is 422).
fn reference(prefix: &str, what: &str, example: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^{prefix}[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{{25}}$"
        )))
        .description(Some(format!(
            "The id of {what} of this organisation (422 when there is none)."
        )))
        .examples([example])
        .build()
}

/// `integration_id` in a request.
pub fn template_reference() -> Object {
    reference("tmpl_", "a template", "tmpl_01JN3Z5K8V6W0XQ4R2T7YB9CDE")
}

/// `revision_id` in a request.
pub fn revision_reference() -> Object {
    reference(
        "rev_",
        "a revision of the attached template",
        "rev_01JN3Z6A1B2C3D4E5F6G7H8J9K",
    )
}

/// `revision_id` in an update: a reference, or `null` for "unchanged".
pub fn nullable_revision_reference() -> Schema {
    OneOfBuilder::new()
        .item(revision_reference())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

/// Pipeline parameters: keys of 1 to 64 letters, digits or underscores;
/// values are strings, numbers or booleans.
pub fn parameters() -> Object {
    parameters_object(false)
}

/// Parameters in a request where `null` means "none".
pub fn nullable_parameters() -> Object {
    parameters_object(true)
}

fn parameters_object(nullable: bool) -> Object {
    let kinds: &[Type] = if nullable {
        &[Type::Object, Type::Null]
    } else {
        &[Type::Object]
    };
    ObjectBuilder::new()
        .schema_type(kinds.iter().cloned().collect::<SchemaType>())
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z0-9_]{1,64}$")),
        ))
        .additional_properties(Some(ObjectBuilder::new().schema_type(
            SchemaType::from_iter([Type::String, Type::Number, Type::Boolean]),
        )))
        .description(Some(
            "What `{{pipeline_param.KEY}}` references resolve to: keys of 1 to 64 letters, \
             digits or underscores; values are strings, numbers or booleans.",
        ))
        .examples([serde_json::json!({ "pixel_id": "1234567890", "batch_size": 100 })])
        .build()
}

/// Secret parameters as a write gives them.
pub fn secret_parameters() -> Object {
    secret_parameters_object(false)
}

/// Secret parameters in a request where `null` means "none".
pub fn nullable_secret_parameters() -> Object {
    secret_parameters_object(true)
}

fn secret_parameters_object(nullable: bool) -> Object {
    let kinds: &[Type] = if nullable {
        &[Type::Object, Type::Null]
    } else {
        &[Type::Object]
    };
    ObjectBuilder::new()
        .schema_type(kinds.iter().cloned().collect::<SchemaType>())
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z0-9_]{1,64}$")),
        ))
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(8192)),
        ))
        .description(Some(
            "Credentials that `{{pipeline_param.KEY}}` references resolve to, in one namespace \
             with `parameters` (a key may not be in both). Write-only: sealed at rest, and every \
             response shows each value as `\"***\"`. On `PUT` the map replaces the stored one \
             whole, and a value of exactly `\"***\"` keeps the stored value of that key.",
        ))
        .examples([serde_json::json!({ "meta_access_token": "EAAB…" })])
        .build()
}

/// Secret parameters as every response shows them: each key, `"***"`.
pub fn masked_secret_parameters() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["***"])),
        ))
        .description(Some(
            "The pipeline's secret parameter keys; every value reads `\"***\"`, for every role.",
        ))
        .examples([serde_json::json!({ "meta_access_token": "***" })])
        .build()
}

/// A revision's config: any JSON object (nesting depth ≤ 64). When the
/// template's vendor is in the catalog, the vendor's `config_fields` apply (422).
pub fn config() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "A JSON object, nested at most 64 levels deep. It must satisfy the vendor's \
             `config_fields` (required fields present, declared types respected; a value that \
             is exactly one `{{pipeline_param.KEY}}` reference satisfies any type): otherwise \
             422. Secret fields read `\"***\"`; sending `\"***\"` back keeps the stored value.",
        ))
        .examples([
            serde_json::json!({ "pixel_id": "{{pipeline_param.pixel_id}}", "access_token": "***" }),
        ])
        .build()
}

/// A config, or `null` for "none".
pub fn nullable_config() -> Schema {
    OneOfBuilder::new()
        .item(config())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

/// An RFC 6902 JSON Patch: a list of operations.
pub fn json_patch() -> Array {
    Array::new(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "op",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["add", "remove", "replace", "move", "copy", "test"])),
            )
            .required("op")
            .property(
                "path",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("A JSON Pointer (RFC 6901).")),
            )
            .required("path")
            .property(
                "value",
                ObjectBuilder::new()
                    .schema_type(SchemaType::AnyValue)
                    .description(Some("The new value (`add`, `replace`, `test`).")),
            )
            .property(
                "from",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("The source pointer (`move`, `copy`).")),
            ),
    )
}

/// How the event processor delivers a revision's events.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// The event processor calls the vendor's server API.
    ServerSide,
    /// A client-side tag sends the events from the browser or app.
    ClientSide,
}

/// The answer to a `DELETE`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DeletedStatus {
    /// The object is gone.
    Deleted,
}

/// A vendor of the integration catalog.
#[derive(Debug, ToSchema)]
pub struct CatalogVendor {
    /// The vendor key (`meta_capi`), which templates reference as `vendor`.
    pub key: String,
    /// A human name.
    pub name: String,
    /// What the destination does.
    pub description: String,
    /// What kind of destination it is.
    pub category: CatalogCategory,
    /// Generally available or beta.
    pub status: CatalogStatus,
    /// The vendor's home page.
    #[schema(format = "uri")]
    pub website: String,
    /// The fields a config may hold.
    pub config_fields: Vec<CatalogConfigField>,
    /// Ready-made starting configurations; every vendor has `default`.
    pub variants: Vec<CatalogVariant>,
}

/// What a vendor does (the `category` filter of the catalog).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CatalogCategory {
    /// Ad platforms receiving conversions.
    Advertising,
    /// Product and web analytics.
    Analytics,
    /// Mobile measurement and attribution partners.
    Attribution,
    /// Customer data platforms and engagement tools.
    Cdp,
    /// Warehouses and object stores.
    CloudStorage,
    /// Everything else (webhooks, chat notifications…).
    Other,
}

/// Whether a vendor integration is generally available or still in beta.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CatalogStatus {
    /// Generally available.
    Ga,
    /// Usable, but its fields may still change.
    Beta,
}

/// The declared type of a config field.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CatalogFieldType {
    /// A single-line string.
    String,
    /// A credential: encrypted at rest, `"***"` in responses.
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
#[derive(Debug, ToSchema)]
pub struct CatalogConfigField {
    /// The top-level key in a revision's `config`.
    pub key: String,
    /// A human label for forms.
    pub label: String,
    /// The declared type.
    #[schema(rename = "type")]
    pub field_type: CatalogFieldType,
    /// Whether a config must hold a non-null value for this key.
    pub required: bool,
    /// The value a form should pre-fill (any JSON value), when there is one.
    #[schema(value_type = Value, required = false)]
    pub default: Option<serde_json::Value>,
    /// The allowed values of a `select` field.
    #[schema(nullable = false)]
    pub options: Option<Vec<String>>,
    /// Example input for forms.
    #[schema(nullable = false)]
    pub placeholder: Option<String>,
    /// One sentence of guidance for forms.
    #[schema(nullable = false)]
    pub help_text: Option<String>,
    /// Present (and `true`) on an `object` field whose values are secrets —
    /// the webhook's `headers`: every value is encrypted at rest, shown as
    /// `"***"` (except to `service` on rendered configs), kept per key when
    /// sent back as `"***"`, and must be a string; a value that is exactly
    /// one `{{pipeline_param.KEY}}` placeholder is a name and is shown. The
    /// keys stay readable.
    #[schema(nullable = false)]
    pub secret_values: Option<bool>,
}

/// A ready-made starting configuration of a vendor.
#[derive(Debug, ToSchema)]
pub struct CatalogVariant {
    /// The variant key (`default`, `retail`…), unique within its vendor.
    pub key: String,
    /// A human name.
    pub name: String,
    /// What the variant is for.
    pub description: String,
    /// The config revision 1 starts from when a template is installed from it.
    #[schema(value_type = Object)]
    pub default_config: serde_json::Map<String, serde_json::Value>,
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, ToSchema)]
pub struct ProbeResponse {
    /// `ok` (alive) or `ready` (the database answers).
    #[schema(examples("ok", "ready"))]
    pub status: String,
}
