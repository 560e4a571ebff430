//! Secret config values at rest: sealed before they are stored, masked in
//! every response, opened only for the `service` role on rendered configs.

use integrations_domain::catalog::Vendor;
use integrations_domain::secrets::{self, MASK};
use serde_json::{Map, Value};

use crate::App;
use crate::error::{AppError, FieldProblem, Problems};

impl App {
    /// Readies a new revision's config for storage: validates it against the
    /// vendor's fields, puts back the previous value of every secret sent as
    /// `"***"` (`previous` is asked only when there is one), and seals every
    /// other secret value. Problems are recorded in `problems`.
    pub(crate) fn prepare_config(
        &self,
        vendor: &Vendor,
        mut config: Map<String, Value>,
        previous: impl FnOnce() -> Result<Option<Map<String, Value>>, AppError>,
        problems: &mut Problems,
    ) -> Result<Map<String, Value>, AppError> {
        if let Err(found) =
            integrations_domain::validate_config(vendor, &Value::Object(config.clone()))
        {
            let more = found.more();
            for found in found {
                problems.push(FieldProblem::new(
                    found.path.to_string(),
                    found.problem.code(),
                    found.to_string(),
                ));
            }
            if more > 0 {
                problems.push(FieldProblem::truncated("config", more));
            }
        }
        let echoed: Vec<&str> = vendor
            .secret_keys()
            .filter(|key| config.get(*key).and_then(Value::as_str) == Some(MASK))
            .collect();
        if !echoed.is_empty() {
            let previous = previous()?;
            if let Err(found) = secrets::keep_echoed(vendor, &mut config, previous.as_ref()) {
                for found in found {
                    problems.push(FieldProblem::new(
                        found.path.to_string(),
                        found.problem.code(),
                        found.to_string(),
                    ));
                }
            }
        }
        for key in vendor.secret_keys().filter(|key| !echoed.contains(key)) {
            if let Some(value @ Value::String(_)) = config.get_mut(key) {
                if secrets::holds_secret(value) {
                    let sealed = self
                        .cipher
                        .seal(value.as_str().unwrap_or_default())
                        .map_err(|err| AppError::Internal(Box::new(err)))?;
                    *value = Value::String(sealed);
                }
            }
        }
        Ok(config)
    }

    /// Opens every sealed secret of `config` in place: what the `service`
    /// role receives on rendered configs.
    pub(crate) fn reveal(
        &self,
        vendor: &Vendor,
        config: &mut Map<String, Value>,
    ) -> Result<(), AppError> {
        for key in vendor.secret_keys() {
            if let Some(Value::String(text)) = config.get_mut(key) {
                if self.cipher.is_sealed(text) {
                    *text = self.cipher.open(text).map_err(|err| {
                        AppError::Internal(format!("cannot open the secret '{key}' (was ENCRYPTION_KEY changed?): {err}").into())
                    })?;
                }
            }
        }
        Ok(())
    }
}
