//! A pipeline's secret parameters: checked, sealed for their place on the
//! pipeline, opened only to render. No response shows a value: every caller
//! reads `"***"`, and a `"***"` written back keeps the stored value.

use integrations_domain::secrets::{MASK, SecretVersion};
use integrations_domain::{
    MAX_PARAM_VALUE_BYTES, MAX_PARAMS, OrgId, ParamKey, ParamValue, Parameters, Pipeline,
    PipelineId, SecretParameters,
};
use integrations_ports::{
    Binding, CipherError, PIPELINE_OWNER, SealedSecret, StoreSession, secret_parameter_path,
};
use serde_json::{Map, Value};

use crate::App;
use crate::error::{AppError, FieldProblem, Problems};

/// One secret parameter as a write gives it.
#[derive(Debug)]
pub(crate) enum Entered {
    /// A value to seal.
    New(String),
    /// `"***"`: keep the stored value (of this version).
    Keep(SecretVersion),
}

/// Checks a `secret_parameters` map: keys as for parameters, string values of
/// at most 8 KiB, at most 100 keys, and `"***"` only for a key `stored` has.
/// Reports each bad entry.
pub(crate) fn check(
    problems: &mut Problems,
    raw: Map<String, Value>,
    stored: &SecretParameters,
) -> Vec<(ParamKey, Entered)> {
    if raw.len() > MAX_PARAMS {
        problems.push(FieldProblem::new(
            "secret_parameters",
            "too_many",
            format!(
                "secret_parameters holds {} keys: a pipeline may define at most {MAX_PARAMS}",
                raw.len()
            ),
        ));
    }
    let mut entered = Vec::with_capacity(raw.len().min(MAX_PARAMS));
    for (key, value) in raw {
        let field = format!("secret_parameters.{key}");
        let key = match ParamKey::parse(&key) {
            Ok(key) => key,
            Err(err) => {
                problems.push(FieldProblem::new(field, "invalid_key", err.to_string()));
                continue;
            }
        };
        let Value::String(text) = value else {
            problems.push(FieldProblem::new(
                field,
                "invalid_type",
                "a secret parameter's value must be a string",
            ));
            continue;
        };
        if text == MASK {
            if let Some(version) = stored.get(key.as_str()) {
                entered.push((key, Entered::Keep(version.clone())));
            } else {
                let message = format!(
                    "{field} is \"***\" (keep the current value) but the pipeline has no value for it"
                );
                problems.push(FieldProblem::new(field, "no_previous_secret", message));
            }
        } else if text.len() > MAX_PARAM_VALUE_BYTES {
            problems.push(FieldProblem::new(
                field,
                "too_long",
                format!(
                    "secret_parameters.{key} is {} bytes long: a parameter value may be at most \
                     {MAX_PARAM_VALUE_BYTES} bytes",
                    text.len()
                ),
            ));
        } else {
            entered.push((key, Entered::New(text)));
        }
    }
    entered
}

/// Reports each key that is in both maps: placeholders resolve from one
/// namespace, so a key may be plain or secret, not both.
pub(crate) fn check_disjoint<'a>(
    problems: &mut Problems,
    plain: &Parameters,
    secret: impl Iterator<Item = &'a ParamKey>,
) {
    for key in secret.filter(|key| plain.get(key.as_str()).is_some()) {
        problems.push(FieldProblem::new(
            format!("secret_parameters.{key}"),
            "in_both",
            format!(
                "'{key}' is in both parameters and secret_parameters: a key may be in one of them only"
            ),
        ));
    }
}

/// A pipeline's secret parameters, opened for a render.
#[derive(Debug, Default)]
pub(crate) struct OpenedSecrets {
    /// The values that opened, as string parameters.
    pub values: Parameters,
    /// Keys whose value is sealed under a key this process does not have,
    /// with that key id.
    pub unavailable: Vec<(ParamKey, String)>,
}

impl OpenedSecrets {
    /// The key id that keeps one of `keys` from opening, if any.
    pub fn unavailable_among<'k>(&self, mut keys: impl Iterator<Item = &'k str>) -> Option<&str> {
        keys.find_map(|key| {
            self.unavailable
                .iter()
                .find(|(missing, _)| missing.as_str() == key)
                .map(|(_, kid)| kid.as_str())
        })
    }
}

/// The place of a pipeline's secret parameter.
fn place<'a>(
    org: &'a OrgId,
    owner: &'a str,
    path: &'a str,
    version: &'a SecretVersion,
) -> Binding<'a> {
    Binding {
        org: org.as_str(),
        owner_kind: PIPELINE_OWNER,
        owner_id: owner,
        field_path: path,
        version: version.as_str(),
    }
}

impl App {
    /// Seals the new values of `entered` for pipeline `pipeline` (a value kept
    /// with `"***"` keeps its version and its sealed value). Returns the map
    /// to store and the sealed values to add.
    pub(crate) fn seal_secret_parameters(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        entered: Vec<(ParamKey, Entered)>,
    ) -> Result<(SecretParameters, Vec<SealedSecret>), AppError> {
        let owner = pipeline.to_string();
        let mut map = SecretParameters::new();
        let mut sealed = Vec::new();
        for (key, entry) in entered {
            match entry {
                Entered::Keep(version) => {
                    map.insert(key, version);
                }
                Entered::New(text) => {
                    let version = SecretVersion::from_ulid(self.ids.ulid());
                    let path = secret_parameter_path(&key);
                    let envelope = self
                        .cipher
                        .seal(&text, &place(org, &owner, &path, &version))
                        .map_err(|err| AppError::Internal(Box::new(err)))?;
                    sealed.push(SealedSecret {
                        field_path: path,
                        version: version.clone(),
                        envelope,
                    });
                    map.insert(key, version);
                }
            }
        }
        Ok((map, sealed))
    }

    /// Opens a pipeline's secret parameters (one read). A value sealed under
    /// a key this process lacks is listed, not an error: only the renders
    /// that need it fail.
    ///
    /// # Errors
    /// `Unavailable`; `Internal` for a value that is missing, of another
    /// version, or does not authenticate.
    pub(crate) fn open_secret_parameters(
        &self,
        store: &dyn StoreSession,
        pipeline: &Pipeline,
    ) -> Result<OpenedSecrets, AppError> {
        if pipeline.secret_parameters.is_empty() {
            return Ok(OpenedSecrets::default());
        }
        let sealed = store.pipeline_secrets(&pipeline.org_id, pipeline.id)?;
        self.open_sealed_parameters(pipeline, &sealed)
    }

    /// Opens the secret parameters `pipeline` names (by version) from
    /// `sealed`, as [`App::open_secret_parameters`] does: the pipeline's
    /// sealed values, or the history's copies of them.
    ///
    /// # Errors
    /// `Internal` for a value that is missing, of another version, or does
    /// not authenticate.
    pub(crate) fn open_sealed_parameters(
        &self,
        pipeline: &Pipeline,
        sealed: &[SealedSecret],
    ) -> Result<OpenedSecrets, AppError> {
        let mut opened = OpenedSecrets::default();
        let owner = pipeline.id.to_string();
        for (key, version) in pipeline.secret_parameters.iter() {
            let path = secret_parameter_path(key);
            let secret = sealed
                .iter()
                .find(|s| s.field_path == path && &s.version == version)
                .ok_or_else(|| {
                    AppError::Internal(
                        format!(
                            "the sealed value of secret parameter '{key}' of pipeline {owner} is missing"
                        )
                        .into(),
                    )
                })?;
            match self.cipher.open(
                &secret.envelope,
                &place(&pipeline.org_id, &owner, &path, version),
            ) {
                Ok(text) => {
                    opened.values.insert(key.clone(), ParamValue::String(text));
                }
                Err(CipherError::UnknownKey(kid)) => {
                    tracing::error!(
                        pipeline = %owner, parameter = %key, kid = %kid,
                        "a secret parameter is sealed under a key this process does not have"
                    );
                    opened.unavailable.push((key.clone(), kid));
                }
                Err(err) => {
                    return Err(AppError::Internal(
                        format!("cannot open secret parameter '{key}' of pipeline {owner}: {err}")
                            .into(),
                    ));
                }
            }
        }
        Ok(opened)
    }
}
