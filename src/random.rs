//! The crate's one source of randomness (feature `redis`): [`random_u64`], and [`unique_name`]
//! built on it.
//!
//! Nothing here is security-relevant: the values tell apart processes, replicas and calls
//! (Redis consumer names, lease owners, de-duplication mark tokens),
//! they never protect anything. The standard library's randomly keyed hasher is enough, and
//! the crate needs no RNG dependency.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A pseudo-random `u64`, different on every call (with high probability) and in every process.
///
/// `RandomState` keys are drawn from the operating system once per thread and change on every
/// `RandomState::new()`; a process-wide counter and the time are hashed in as well, so two calls
/// never hash the same input.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    hasher.finish()
}

/// A name unique to this process and call with high probability:
/// `{HOSTNAME}-{pid}-{16 hex digits}` (`replica` when `HOSTNAME` is unset, empty or longer than
/// 64 bytes). Never contains `:` unless `HOSTNAME` does.
pub(crate) fn unique_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty() && h.len() <= 64)
        .unwrap_or_else(|| "replica".to_owned());
    format!("{host}-{}-{:016x}", std::process::id(), random_u64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn random_values_do_not_repeat() {
        let values: HashSet<u64> = (0..10_000).map(|_| random_u64()).collect();
        assert_eq!(values.len(), 10_000);
    }

    #[test]
    fn random_values_differ_across_threads() {
        let a: Vec<u64> = std::thread::spawn(|| (0..100).map(|_| random_u64()).collect())
            .join()
            .expect("thread");
        let b: Vec<u64> = (0..100).map(|_| random_u64()).collect();
        let all: HashSet<u64> = a.into_iter().chain(b).collect();
        assert_eq!(all.len(), 200);
    }

    #[cfg(feature = "redis")]
    #[test]
    fn unique_names_have_host_pid_and_hex_and_differ() {
        let a = unique_name();
        let b = unique_name();
        assert_ne!(a, b);
        let (rest, hex) = a.rsplit_once('-').expect("{host}-{pid}-{hex}");
        assert_eq!(hex.len(), 16);
        assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(rest.ends_with(&format!("-{}", std::process::id())));
    }
}
