//! The one read a vote cast makes of the store (`VotingReads::cast_context`), against the
//! reads it stands for.

use super::*;

/// The one read a cast makes (`cast_context`) gives what the reads apart give: the ballot, its
/// organization with its data key, and the unit with its roll row for that ballot only and
/// every owner (none for a unit without owners, two for a unit with two). A unit added after
/// the roll was frozen is not on it.
pub async fn a_casts_one_read_matches_the_reads_apart(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "one-read").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    // Added after publication: not on the frozen roll, and with no owners.
    cista
        .add_units_in_bulk(&operator(), a.org, "Z", 1, &|_| {})
        .await
        .unwrap();
    // Reweighted after publication: the unit says 2, its roll row still 1.25.
    let reweighted = roster().replace("101,1.25,", "101,2,");
    let plan = cista
        .plan_import(&operator(), a.org, reweighted.as_bytes())
        .await
        .unwrap();
    cista
        .apply_import(
            &operator(),
            a.org,
            reweighted.as_bytes(),
            &plan.fingerprint,
            &|_, _| {},
        )
        .await
        .unwrap();
    let voting = cista.store().voting();
    let stored_ballot = voting.ballot(ballot).await.unwrap().unwrap();
    let organization = h.store.organization(a.org).await.unwrap().unwrap();
    let data_key = h.store.org_data_key(a.org).await.unwrap();
    assert!(data_key.is_some());
    let units = voting.units(a.org).await.unwrap();
    assert_eq!(units.len(), a.units.len() + 1);
    let mut owner_counts = BTreeSet::new();
    for unit in &units {
        let context = voting
            .cast_context(ballot, unit.id)
            .await
            .unwrap()
            .expect("the ballot");
        assert_eq!(context.ballot, stored_ballot);
        assert_eq!(context.organization, organization);
        assert_eq!(context.data_key, data_key);
        let read = context.unit.expect("the unit");
        assert_eq!(&read.unit, unit);
        assert_eq!(read.unit, voting.unit(unit.id).await.unwrap().unwrap());
        assert_eq!(
            read.on_roll,
            voting.eligible_unit(ballot, unit.id).await.unwrap()
        );
        if let Some(on_roll) = &read.on_roll {
            assert_eq!(on_roll.ballot, ballot);
        }
        let mut apart = voting.owners_of(unit.id).await.unwrap();
        apart.sort_by_key(|o| o.subject.as_i64());
        assert_eq!(read.owners, apart, "{}", unit.label);
        owner_counts.insert(read.owners.len());
    }
    // The roster has units with one owner and with two; the added unit has none.
    assert_eq!(owner_counts, BTreeSet::from([0, 1, 2]));
    let added = units.iter().find(|u| u.label.as_str().starts_with('Z'));
    let added = voting
        .cast_context(ballot, added.unwrap().id)
        .await
        .unwrap()
        .unwrap()
        .unit
        .unwrap();
    assert_eq!((added.on_roll, added.owners.len()), (None, 0));
    // The roll row keeps the weight frozen at publication (1.25 for unit 101), whatever the
    // unit says now (2).
    let read = voting
        .cast_context(ballot, a.unit("101").id)
        .await
        .unwrap()
        .unwrap()
        .unit
        .unwrap();
    let on_roll = read.on_roll.unwrap();
    assert_eq!(
        (on_roll.ballot, on_roll.weight.to_string()),
        (ballot, "1.25".to_owned())
    );
    assert_eq!(read.unit.weight.to_string(), "2");
}

/// The one read a cast makes (`cast_context`) finds no unit of another organization, nor one
/// that does not exist, and nothing for a ballot that does not exist; each ballot comes with
/// its own organization's data key, and an organization whose key row is gone is read
/// without a key.
pub async fn a_casts_one_read_keeps_to_the_ballots_organization(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "one-read-org").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    let other = another_association(h, &cista, "other-read").await;
    let voting = cista.store().voting();
    let organization = h.store.organization(a.org).await.unwrap().unwrap();
    let data_key = h.store.org_data_key(a.org).await.unwrap();
    // Another organization's unit, and a unit that does not exist, are no unit of this ballot.
    let elsewhere = voting
        .cast_context(ballot, other.unit("101").id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(elsewhere.unit, None);
    assert_eq!(elsewhere.organization, organization);
    let missing = cista_types::UnitId::from_i64(i64::MAX - 7);
    assert_eq!(
        voting
            .cast_context(ballot, missing)
            .await
            .unwrap()
            .unwrap()
            .unit,
        None
    );
    // A ballot that does not exist is nothing.
    let nowhere = BallotId::from_i64(ballot.as_i64() ^ 1);
    assert_eq!(
        voting
            .cast_context(nowhere, a.unit("101").id)
            .await
            .unwrap(),
        None
    );
    // Each organization's own key; one whose key row is gone is read without a key.
    let other_ballot = open_ballot(h, &cista, &other, Secrecy::Recorded, Weighting::Weighted).await;
    let other_key = voting
        .cast_context(other_ballot, other.unit("101").id)
        .await
        .unwrap()
        .unwrap()
        .data_key;
    assert_eq!(other_key, h.store.org_data_key(other.org).await.unwrap());
    assert_ne!(other_key.map(|k| k.id), data_key.map(|k| k.id));
    h.tamper(&format!(
        "DELETE FROM stored_keys WHERE org_id = {}",
        other.org.as_i64()
    ))
    .await;
    let keyless = voting
        .cast_context(other_ballot, other.unit("101").id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(keyless.data_key, None);
    assert!(keyless.unit.is_some());
}
