//! The one rev rule: every rev the index takes (a firehose `#commit` or `#sync`, a
//! `getRecord` proof, a backfill answer) must be a valid TID and not more than
//! [`MAX_FUTURE_REV_MICROS`] ahead of our clock. A far-future rev would otherwise freeze a
//! link: every later genuine commit would look stale.

use crate::commit::Reject;

/// How far in the future a `rev` may be (clock skew allowance): 5 minutes.
pub const MAX_FUTURE_REV_MICROS: u64 = 5 * 60 * 1_000_000;

/// Checks `rev` against the rule at `now_micros` (unix microseconds); the parsed TID on
/// success (the one place a rev from the network becomes a [`syntax::Tid`]).
pub fn check_rev(rev: &str, now_micros: u64) -> Result<syntax::Tid, Reject> {
    let tid = syntax::Tid::parse(rev).map_err(|e| Reject::Syntax(format!("rev: {e}")))?;
    if tid.micros() > now_micros.saturating_add(MAX_FUTURE_REV_MICROS) {
        return Err(Reject::FutureRev(rev.to_owned()));
    }
    Ok(tid)
}

/// The wall clock in unix microseconds (the workspace's one clock, in `store`).
pub use store::now_micros;

#[cfg(test)]
mod tests {
    use super::*;

    fn tid_at(micros: u64) -> String {
        syntax::Tid::from_parts(micros, 0).to_string()
    }

    #[test]
    fn revs_up_to_five_minutes_ahead_pass_and_later_ones_are_refused() {
        let now = 1_780_000_000_000_000;
        assert_eq!(
            check_rev(&tid_at(now), now).map(|t| t.to_string()),
            Ok(tid_at(now))
        );
        assert!(check_rev(&tid_at(now + MAX_FUTURE_REV_MICROS), now).is_ok());
        let far = tid_at(now + MAX_FUTURE_REV_MICROS + 1_000_000);
        assert_eq!(check_rev(&far, now), Err(Reject::FutureRev(far.clone())));
    }

    #[test]
    fn a_rev_that_is_not_a_tid_is_a_syntax_error() {
        for bad in ["", "abc", "3jzfcijpj2z2aa", "zzzzzzzzzzzzz"] {
            let r = check_rev(bad, now_micros());
            assert!(matches!(r, Err(Reject::Syntax(_))), "{bad}: {r:?}");
        }
    }
}
