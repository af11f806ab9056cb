//! The windows each registration's references are computed over (SPEC §3, §4, §5.1 P106, §9),
//! decided once from the registration and its profile.

use super::{Fact, FactSet};
use crate::profile::{Baseline, Profile};
use crate::registration::Registration;
use crate::time::{MICROS_PER_DAY, MICROS_PER_HOUR};

/// An interval of instants (UTC µs). `closed`: `[from, to]`; otherwise `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
    pub closed: bool,
}

impl Window {
    /// Does a `txn` point at `ts` fall in the window?
    pub fn holds_point(&self, ts: i64) -> bool {
        self.from <= ts && if self.closed { ts <= self.to } else { ts < self.to }
    }
    /// Does a `list` interval `[ts, end)` meet the window? (`end` None = open-ended)
    pub fn meets_interval(&self, ts: i64, end: Option<i64>) -> bool {
        let starts_in_time = if self.closed { ts <= self.to } else { ts < self.to };
        starts_in_time && end.is_none_or(|e| e > self.from)
    }
}

/// Which windows a registration needs, by the rules its profile runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Windows {
    /// `[registered_at − N×24h, registered_at]` for `lowest_30d` (P101).
    pub lowest_30d: Option<Window>,
    /// The same for `lowest_180d` (P102).
    pub lowest_180d: Option<Window>,
    /// The instant the §4.3 list price is looked up at, when the registration gives none.
    pub list_at: Option<i64>,
    /// `[registered_at − 30×24h, registered_at]` for the §4.4 retail reference, when not given.
    pub retail: Option<Window>,
    /// `[ws, promo_start)` (P106).
    pub warmup: Option<Window>,
    /// `[promo_start − N×24h, promo_start)` (P109), and whether `list` rows count (eu-omnibus).
    pub baseline: Option<(Window, bool)>,
    /// cn-samr fallback: the last `txn` before this instant.
    pub last_txn_before: Option<i64>,
}

/// The windows of SPEC §10's price-row facts, for the registrations whose rules read them
/// (kept apart from [`Windows`]: most registrations have none, and every registration holds a
/// `Windows`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PromoWindows {
    /// P112: `[promo_start, promo_end]` (closed), for the promo's `huopin` transactions.
    pub promo: Option<Window>,
    /// P114: `[promo_start, promo_start + 1 h)`.
    pub first_hour: Option<Window>,
    /// K501–K503: the counted sales from `ws` (P106's warm-up start; the slot's first
    /// registration's); `to` ends the turnover window `[ws, promo_start + turnover_hours)` (the
    /// first sale is looked for from `ws` on).
    pub sales: Option<Window>,
    /// P110: the lock.
    pub lock: Option<Window>,
}

/// P110's lock (SPEC §10.2): `[registered_at, promo_end]` in the huopin family (whatever
/// `lock_hours` says), else `[promo_start − lock_hours, promo_start − warmup_hours)` where the
/// profile sets `lock_hours` (ae-store: 312), else the registration's span as the family's.
pub fn lock(r: &Registration, p: &Profile) -> Window {
    match p.lock_hours.filter(|_| !p.huopin_family) {
        None => Window { from: r.registered_at, to: r.promo_end, closed: true },
        Some(h) => Window {
            from: r.promo_start - h * MICROS_PER_HOUR,
            to: r.promo_start - p.warmup_hours * MICROS_PER_HOUR,
            closed: false,
        },
    }
}

/// P113's window (`[registered_at − 30 d, registered_at]`), where the registration gives a
/// retail price and its rules read the highest observation.
pub fn retail_high(r: &Registration, needs: FactSet) -> Option<Window> {
    (needs.has(Fact::RetailHigh) && r.retail_price.is_some()).then(|| Window {
        from: r.registered_at - 30 * MICROS_PER_DAY,
        to: r.registered_at,
        closed: true,
    })
}

/// The §10 windows of the facts in `needs` (`None`: none of them).
pub fn promo_windows(r: &Registration, p: &Profile, needs: FactSet) -> Option<PromoWindows> {
    let w = PromoWindows {
        promo: needs.has(Fact::PromoTxn).then_some(Window { from: r.promo_start, to: r.promo_end, closed: true }),
        first_hour: needs.has(Fact::FirstHour).then_some(Window {
            from: r.promo_start,
            to: r.promo_start + MICROS_PER_HOUR,
            closed: false,
        }),
        sales: needs.has(Fact::Sales).then(|| Window {
            from: warmup_start(r, p),
            to: r.promo_start + p.turnover_hours * MICROS_PER_HOUR,
            closed: false,
        }),
        lock: needs.has(Fact::LockEdits).then(|| lock(r, p)),
    };
    (w != PromoWindows::default()).then_some(w)
}

/// P106 warm-up start (SPEC §5.1): the registration's `warmup_start`, else
/// `max(promo_start − warmup_hours, approved_at)`.
pub fn warmup_start(r: &Registration, p: &Profile) -> i64 {
    match r.warmup_start {
        Some(ws) => ws,
        None => {
            let by_hours = r.promo_start - p.warmup_hours * MICROS_PER_HOUR;
            r.approved_at.map_or(by_hours, |a| a.max(by_hours))
        }
    }
}

/// The windows of the facts in `needs` (what the profile's rules read).
pub fn windows(r: &Registration, p: &Profile, needs: FactSet) -> Windows {
    let lookback =
        |days: i64| Window { from: r.registered_at - days * MICROS_PER_DAY, to: r.registered_at, closed: true };
    Windows {
        lowest_30d: needs.has(Fact::Lowest30d).then(|| lookback(p.lowest_30d_days)),
        lowest_180d: needs.has(Fact::Lowest180d).then(|| lookback(p.lowest_180d_days)),
        list_at: (needs.has(Fact::List) && r.list_price.is_none()).then_some(r.registered_at),
        retail: (needs.has(Fact::Retail) && r.retail_price.is_none()).then(|| lookback(30)),
        warmup: needs.has(Fact::Warmup).then(|| Window { from: warmup_start(r, p), to: r.promo_start, closed: false }),
        baseline: match (needs.has(Fact::Baseline), p.baseline) {
            (true, Some(b)) => Some((
                Window { from: r.promo_start - p.baseline_days * MICROS_PER_DAY, to: r.promo_start, closed: false },
                b == Baseline::EuOmnibus,
            )),
            _ => None,
        },
        last_txn_before: (needs.has(Fact::Baseline) && p.baseline == Some(Baseline::CnSamr)).then_some(r.promo_start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_edges() {
        let w = Window { from: 10, to: 20, closed: true };
        assert!(w.holds_point(10) && w.holds_point(20) && !w.holds_point(9) && !w.holds_point(21));
        let h = Window { from: 10, to: 20, closed: false };
        assert!(h.holds_point(10) && !h.holds_point(20));
        // a list price set before the window and still in force at its start counts
        assert!(w.meets_interval(0, None));
        assert!(w.meets_interval(0, Some(11)));
        assert!(!w.meets_interval(0, Some(10)));
        assert!(!h.meets_interval(20, None));
    }
}
