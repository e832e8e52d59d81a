//! The trust report's counts of whole tables: kept for `KEPT_FOR` (30 s), then taken again.

use crate::Harness;
use cista_core::Actor;
use time::Duration;

pub async fn the_trust_reports_counts_are_kept_for_thirty_seconds(h: &Harness) {
    let cista = h.cista().await;
    let first = cista.trust_report(&Actor::Anonymous).await.unwrap();
    assert_eq!(first.counted_at, first.generated_at);
    let organizations = first.organizations;

    // A new organization is not counted while the first count is kept…
    h.org(&cista, "counted-later").await;
    h.clock.advance(Duration::seconds(29));
    let kept = cista.trust_report(&Actor::Anonymous).await.unwrap();
    assert_eq!(kept.organizations, organizations);
    assert_eq!(kept.counted_at, first.counted_at);
    assert_eq!(
        kept.generated_at,
        first.generated_at.plus(Duration::seconds(29))
    );

    // …and is from 30 s on, for every report asked for at once.
    h.clock.advance(Duration::seconds(1));
    let reports =
        futures::future::join_all((0..8).map(|_| cista.trust_report(&Actor::Anonymous))).await;
    for report in reports {
        let report = report.unwrap();
        assert_eq!(report.organizations, organizations + 1);
        assert_eq!(report.counted_at, report.generated_at);
    }

    // A clock set back counts again rather than keep a count from its future.
    h.org(&cista, "counted-after-the-clock-went-back").await;
    h.clock.advance(Duration::seconds(-60));
    let back = cista.trust_report(&Actor::operator("test")).await.unwrap();
    assert_eq!(back.organizations, organizations + 2);
    assert_eq!(back.counted_at, back.generated_at);
}
