//! The diffs one rollout shows: at most
//! [`MAX_ROLLOUT_DIFF_BYTES`](crate::MAX_ROLLOUT_DIFF_BYTES) of JSON text in
//! all. The first diff that does not fit in what is left spends the budget:
//! from then on no diff is computed, let alone serialised, and each row's
//! `config_diff` is `null`.

use std::io;

use serde_json::Value;

use crate::error::AppError;

/// What is left of a rollout's diff budget.
#[derive(Debug)]
pub(crate) struct DiffBudget {
    left: usize,
    spent: bool,
}

/// How a patch measured against a limit.
#[derive(Debug, PartialEq, Eq)]
enum Measured {
    /// Its JSON text has this many bytes.
    Fits(usize),
    /// Its JSON text is longer than the limit; serialising stopped after
    /// this many bytes.
    Over { written: usize },
}

/// A writer that only counts, and fails at the first byte past `limit`.
struct Bounded {
    written: usize,
    limit: usize,
}

impl io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written = self.written.saturating_add(buf.len());
        if self.written > self.limit {
            return Err(io::Error::other("over the diff budget"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The length of `patch`'s JSON text, serialising no further than `limit`.
fn measure(patch: &json_patch::Patch, limit: usize) -> Result<Measured, AppError> {
    let mut counter = Bounded { written: 0, limit };
    match serde_json::to_writer(&mut counter, patch) {
        Ok(()) => Ok(Measured::Fits(counter.written)),
        Err(_) if counter.written > limit => Ok(Measured::Over {
            written: counter.written,
        }),
        Err(err) => Err(AppError::Internal(Box::new(err))),
    }
}

impl DiffBudget {
    /// A budget of `bytes`.
    pub(crate) const fn new(bytes: usize) -> Self {
        Self {
            left: bytes,
            spent: false,
        }
    }

    /// Whether no more diff is shown: one did not fit. Check it before
    /// computing a diff.
    pub(crate) const fn spent(&self) -> bool {
        self.spent
    }

    /// `patch` as JSON when its text fits in what is left (which it then
    /// uses up); otherwise `None`, and the budget is spent.
    pub(crate) fn take(&mut self, patch: &json_patch::Patch) -> Result<Option<Value>, AppError> {
        if self.spent {
            return Ok(None);
        }
        match measure(patch, self.left)? {
            Measured::Fits(size) => {
                self.left -= size;
                let value =
                    serde_json::to_value(patch).map_err(|err| AppError::Internal(Box::new(err)))?;
                Ok(Some(value))
            }
            Measured::Over { .. } => {
                self.spent = true;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use json_patch::{AddOperation, Patch, PatchOperation};
    use serde_json::json;

    use super::{DiffBudget, Measured, measure};

    fn patch(ops: usize, value: &str) -> Patch {
        Patch(
            (0..ops)
                .map(|i| {
                    PatchOperation::Add(AddOperation {
                        path: format!("/k{i}").parse().unwrap_or_default(),
                        value: json!(value),
                    })
                })
                .collect(),
        )
    }

    fn text_len(patch: &Patch) -> usize {
        serde_json::to_string(patch).map_or(0, |text| text.len())
    }

    #[test]
    fn diffs_are_shown_until_one_does_not_fit_then_none_is() {
        let small = patch(1, "a");
        let size = text_len(&small);
        let mut budget = DiffBudget::new(size * 2 + 1);
        assert_eq!(
            budget.take(&small).ok().flatten(),
            serde_json::to_value(&small).ok()
        );
        assert!(budget.take(&small).ok().flatten().is_some());
        assert!(!budget.spent(), "one byte is left");
        assert_eq!(budget.take(&small).ok().flatten(), None, "over");
        assert!(budget.spent());
        // Once spent, even the smallest diff is not shown.
        assert_eq!(budget.take(&Patch(Vec::new())).ok().flatten(), None);
    }

    #[test]
    fn a_diff_over_the_budget_is_not_serialised_to_its_end() {
        let big = patch(10_000, "value");
        assert!(text_len(&big) > 100_000);
        match measure(&big, 100).expect("measured") {
            Measured::Over { written } => assert!(written < 200, "wrote {written} bytes"),
            Measured::Fits(size) => panic!("{size} bytes fit in 100"),
        }
        assert_eq!(
            measure(&big, usize::MAX).ok(),
            Some(Measured::Fits(text_len(&big)))
        );
    }
}
