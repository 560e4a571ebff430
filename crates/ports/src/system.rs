//! The clock and id-generation ports, with their production implementations.

use time::OffsetDateTime;
use ulid::Ulid;

/// The current time. Tests substitute a fixed one (`FixedClock` in
/// `crates/app/tests/use_cases/fakes.rs`).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in UTC, truncated to whole microseconds (what every database keeps).
    fn now(&self) -> OffsetDateTime;
}

/// Fresh ULIDs for new objects.
pub trait IdGenerator: Send + Sync + std::fmt::Debug {
    /// A new, unique ULID.
    fn ulid(&self) -> Ulid;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        let micros = now.microsecond();
        // Replacing the sub-second part with its microseconds cannot fail.
        now.replace_microsecond(micros).unwrap_or(now)
    }
}

/// Random ULIDs from the operating system's generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct UlidGenerator;

impl IdGenerator for UlidGenerator {
    fn ulid(&self) -> Ulid {
        Ulid::generate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_utc_and_whole_microseconds() {
        let now = SystemClock.now();
        assert!(now.offset().is_utc());
        assert_eq!(now.nanosecond() % 1_000, 0);
    }

    #[test]
    fn ulids_are_unique() {
        assert_ne!(UlidGenerator.ulid(), UlidGenerator.ulid());
    }
}
