//! The service's clock: what the consensus driver reads for round timers, the minimum block
//! interval and reconnection delays, so tests can run those in virtual time.
//!
//! [`SystemClock`] is the machine's monotonic clock. [`ManualClock`] stands still until a test
//! moves it ([`ManualClock::advance`]): a chain whose blocks come a minute apart then makes a
//! block per call, at once. Durations that are measured rather than waited for (how long a
//! block took to persist, commit latencies) are real time either way. Wall-clock readings
//! (block timestamps, the gossip send sequence) are [`now_secs`] and [`now_millis`].

use std::{
    fmt,
    sync::Mutex,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// Milliseconds since the Unix epoch, by the machine's wall clock.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Seconds since the Unix epoch, by the machine's wall clock.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A monotonic clock the driver waits on.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, by this clock.
    fn now(&self) -> Instant;

    /// How long (in real time) to wait for input before looking at the clock again, when the
    /// next deadline is `deadline`.
    fn wait_for(&self, deadline: Instant) -> Duration;
}

/// The machine's monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wait_for(&self, deadline: Instant) -> Duration {
        deadline.saturating_duration_since(Instant::now())
    }
}

/// How often a driver on a [`ManualClock`] looks whether the clock moved.
const MANUAL_POLL: Duration = Duration::from_millis(2);

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Instant>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            now: Mutex::new(Instant::now()),
        }
    }
}

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.now.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.now.lock().map_or_else(|e| *e.into_inner(), |now| *now)
    }

    fn wait_for(&self, deadline: Instant) -> Duration {
        if deadline <= self.now() {
            Duration::ZERO
        } else {
            MANUAL_POLL
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::default();
        let t0 = clock.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), t0);
        let deadline = t0 + Duration::from_secs(60);
        assert_eq!(clock.wait_for(deadline), MANUAL_POLL);
        clock.advance(Duration::from_secs(60));
        assert_eq!(clock.now(), deadline);
        assert_eq!(clock.wait_for(deadline), Duration::ZERO);
    }

    #[test]
    fn the_system_clock_waits_until_the_deadline() {
        let clock = SystemClock;
        let wait = clock.wait_for(clock.now() + Duration::from_secs(10));
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10));
        assert_eq!(clock.wait_for(clock.now()), Duration::ZERO);
    }
}
