//! Rows as Diesel reads and writes them, and their conversion to domain values.

use diesel::prelude::*;
use integrations_domain::{
    Attachment, DeliveryMode, Description, Name, OrgId, Parameters, Pipeline, Revision,
    RevisionNumber, Template, UserId,
};
use serde_json::{Map, Value};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::error::{Failure, corrupt};
use crate::schema::{attachments, pipelines, revisions, templates};

/// A UTC instant as a `TIMESTAMP` column holds it.
pub(crate) fn timestamp(at: OffsetDateTime) -> PrimitiveDateTime {
    let utc = at.to_offset(UtcOffset::UTC);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

pub(crate) fn instant(at: PrimitiveDateTime) -> OffsetDateTime {
    at.assume_utc()
}

fn parse<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) -> Result<T, Failure> {
    result.map_err(|err| corrupt(what, err))
}

fn description(raw: Option<String>) -> Result<Option<Description>, Failure> {
    raw.map(|d| parse("description", Description::parse(&d)))
        .transpose()
}

fn revision_number(raw: i32) -> Result<RevisionNumber, Failure> {
    u32::try_from(raw)
        .ok()
        .and_then(RevisionNumber::new)
        .ok_or_else(|| corrupt("revision number", raw))
}

pub(crate) fn count(raw: i32) -> Result<u32, Failure> {
    u32::try_from(raw).map_err(|err| corrupt("revision count", err))
}

pub(crate) fn to_i32(number: u32) -> Result<i32, Failure> {
    i32::try_from(number).map_err(|err| corrupt("revision number", err))
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = templates)]
pub(crate) struct TemplateRow {
    id: String,
    org_id: String,
    name: String,
    vendor: String,
    description: Option<String>,
    catalog_vendor_key: Option<String>,
    catalog_variant_key: Option<String>,
    latest_revision: i32,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl TemplateRow {
    pub(crate) fn into_domain(self) -> Result<Template, Failure> {
        Ok(Template {
            id: parse("template id", self.id.parse())?,
            org_id: parse("org id", OrgId::parse(&self.org_id))?,
            name: parse("template name", Name::stored(&self.name))?,
            vendor: self.vendor,
            description: description(self.description)?,
            catalog_vendor_key: self.catalog_vendor_key,
            catalog_variant_key: self.catalog_variant_key,
            latest_revision: count(self.latest_revision)?,
            created_at: instant(self.created_at),
            updated_at: instant(self.updated_at),
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = templates)]
pub(crate) struct NewTemplateRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub name_key: String,
    pub vendor: String,
    pub description: Option<String>,
    pub catalog_vendor_key: Option<String>,
    pub catalog_variant_key: Option<String>,
    pub latest_revision: i32,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = revisions)]
pub(crate) struct RevisionRow {
    pub id: String,
    pub template_id: String,
    pub org_id: String,
    pub revision_number: i32,
    pub config: String,
    pub delivery_mode: String,
    pub change_summary: Option<String>,
    pub created_by: String,
    pub created_at: PrimitiveDateTime,
    pub restored_from: Option<i32>,
}

impl RevisionRow {
    pub(crate) fn into_domain(self) -> Result<Revision, Failure> {
        let config: Map<String, Value> =
            parse("revision config", serde_json::from_str(&self.config))?;
        Ok(Revision {
            id: parse("revision id", self.id.parse())?,
            template_id: parse("template id", self.template_id.parse())?,
            org_id: parse("org id", OrgId::parse(&self.org_id))?,
            number: revision_number(self.revision_number)?,
            config,
            delivery_mode: DeliveryMode::parse(&self.delivery_mode)
                .ok_or_else(|| corrupt("delivery mode", &self.delivery_mode))?,
            change_summary: description(self.change_summary)?,
            created_by: parse("created_by", UserId::parse(&self.created_by))?,
            created_at: instant(self.created_at),
            restored_from: self.restored_from.map(revision_number).transpose()?,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = pipelines)]
pub(crate) struct PipelineRow {
    id: String,
    org_id: String,
    name: String,
    description: Option<String>,
    parameters: String,
    secret_parameters: String,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl PipelineRow {
    pub(crate) fn into_domain(self) -> Result<Pipeline, Failure> {
        let parameters: Parameters = parse(
            "pipeline parameters",
            serde_json::from_str(&self.parameters),
        )?;
        Ok(Pipeline {
            id: parse("pipeline id", self.id.parse())?,
            org_id: parse("org id", OrgId::parse(&self.org_id))?,
            name: parse("pipeline name", Name::stored(&self.name))?,
            description: description(self.description)?,
            parameters,
            secret_parameters: parse(
                "pipeline secret parameters",
                serde_json::from_str(&self.secret_parameters),
            )?,
            created_at: instant(self.created_at),
            updated_at: instant(self.updated_at),
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = pipelines)]
pub(crate) struct NewPipelineRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub name_key: String,
    pub description: Option<String>,
    pub parameters: String,
    pub secret_parameters: String,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments)]
pub(crate) struct AttachmentRow {
    pub id: String,
    pub org_id: String,
    pub pipeline_id: String,
    pub template_id: String,
    pub revision_id: String,
    pub enabled: bool,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

/// An attachment row with what it shows of its template and revision.
pub(crate) type AttachmentView = (AttachmentRow, String, String, i32, i32);

pub(crate) fn attachment(
    (row, name, vendor, latest, number): AttachmentView,
) -> Result<Attachment, Failure> {
    Ok(Attachment {
        id: parse("attachment id", row.id.parse())?,
        pipeline_id: parse("pipeline id", row.pipeline_id.parse())?,
        template_id: parse("template id", row.template_id.parse())?,
        template_name: parse("template name", Name::stored(&name))?,
        vendor,
        revision_id: parse("revision id", row.revision_id.parse())?,
        revision_number: revision_number(number)?,
        latest_revision: count(latest)?,
        enabled: row.enabled,
        created_at: instant(row.created_at),
        updated_at: instant(row.updated_at),
    })
}

/// A config as the `config` column holds it: compact JSON text, lossless.
pub(crate) fn config_text(config: &Map<String, Value>) -> Result<String, Failure> {
    serde_json::to_string(config).map_err(|err| corrupt("config", err))
}
