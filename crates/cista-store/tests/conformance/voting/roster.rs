//! The roster import: checked whole, previewed, then applied.

use super::*;

pub async fn the_roster_is_checked_whole_previewed_then_applied(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "roster").await;

    a_bad_roster_is_refused_whole(&cista, org.id).await;
    a_clean_roster_is_previewed_then_applied(&cista, org.id).await;

    // Importing the same file again changes nothing.
    let again = cista
        .plan_import(&operator(), org.id, roster().as_bytes())
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(again.units_unchanged, 8);

    // A changed file: a weight, a new owner, a unit gone, a new unit.
    let changed = roster()
        .replace("107,1,Hal,Qi", "107,2,Hal,Qi")
        .replace("108,1,Ivy,Ro,ivy@palm.example,,,yes\n", "")
        + "109,1,Jo,Su,jo@palm.example,,,\n105,,Kim,Oh,kim@palm.example,,,\n";
    let plan = cista
        .plan_import(&operator(), org.id, changed.as_bytes())
        .await
        .unwrap();
    assert_eq!(plan.units_added, vec!["109"]);
    assert_eq!(plan.units_retired, vec!["108"]);
    assert_eq!(plan.units_changed.len(), 1);
    assert_eq!(plan.units_changed[0].changes, vec!["weight 1 → 2"]);
    assert_eq!(
        plan.owners_added,
        vec![
            ("105".to_owned(), "Kim Oh".to_owned()),
            ("109".to_owned(), "Jo Su".to_owned())
        ]
    );
    assert_eq!(
        plan.owners_removed,
        vec![("108".to_owned(), "Ivy Ro".to_owned())]
    );
    cista
        .apply_import(
            &operator(),
            org.id,
            changed.as_bytes(),
            &plan.fingerprint,
            &|_, _| {},
        )
        .await
        .unwrap();
    let a = load(&cista, org.id).await;
    assert!(a.unit("108").retired_at.is_some());
    assert_eq!(a.unit("107").weight.to_string(), "2");
    assert_eq!(a.owners_of("105").len(), 2);

    // Only owners and administrators import.
    let member = a.voter("101");
    let err = cista
        .plan_import(&member, org.id, roster().as_bytes())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
}

/// A file with problems is refused whole: nothing is written.
async fn a_bad_roster_is_refused_whole(cista: &Cista, org: OrgId) {
    // A file with problems is refused whole: nothing is written.
    let bad = format!("{HEADER}101,1,Ana,Ruiz,ana@palm.example,,,\n102,x,Bo,Li,bo@palm,,,\n");
    let Err(Error::ImportRejected { problems, .. }) =
        cista.plan_import(&operator(), org, bad.as_bytes()).await
    else {
        panic!("a bad file must be rejected");
    };
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(text[0].starts_with("line 3, column weight"), "{text:?}");
    assert!(text[1].starts_with("line 3, column email"), "{text:?}");
    assert!(cista.store().voting().units(org).await.unwrap().is_empty());
    assert!(cista.store().members(org).await.unwrap().is_empty());
}

/// A clean file: the preview, then the import (not with another preview's fingerprint).
async fn a_clean_roster_is_previewed_then_applied(cista: &Cista, org: OrgId) {
    // A clean file: the preview, then the import.
    let plan = cista
        .plan_import(&operator(), org, roster().as_bytes())
        .await
        .unwrap();
    assert_eq!(plan.units_added.len(), 8);
    assert_eq!(plan.owners_added.len(), 10);
    assert_eq!(plan.people_new, 9, "Ana owns two units and is one person");
    let wrong = cista
        .apply_import(
            &operator(),
            org,
            roster().as_bytes(),
            "not-the-preview",
            &|_, _| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(wrong, Error::Conflict(_)), "{wrong:?}");
    assert!(cista.store().voting().units(org).await.unwrap().is_empty());
    let progress = std::sync::Mutex::new(Vec::new());
    let done = cista
        .apply_import(
            &operator(),
            org,
            roster().as_bytes(),
            &plan.fingerprint,
            &|d, t| {
                progress.lock().unwrap().push((d, t));
            },
        )
        .await
        .unwrap();
    assert_eq!(done.people_new, 9);
    let progress = progress.into_inner().unwrap();
    assert_eq!(progress.last(), Some(&(plan.work(), plan.work())));
    let a = load(cista, org).await;
    assert_eq!(a.units.len(), 8);
    assert_eq!(a.owners_of("101"), a.owners_of("102"));
    assert_eq!(a.unit("101").weight.to_string(), "1.25");
    assert_eq!(a.unit("101").consent, ConsentStatus::Consented);
    assert_eq!(a.unit("105").consent, ConsentStatus::None);
    assert_eq!(a.unit("106").consent, ConsentStatus::OptedOut);
    assert_eq!(cista.store().members(org).await.unwrap().len(), 9);
    assert!(
        audit_kinds(cista)
            .await
            .contains(&"units.imported".to_owned())
    );
}

/// A row with a phone number and no email names someone the organization already has, never
/// a person of another organization who has (or once had) that number: numbers change hands,
/// and linking them would give the unit's vote to a stranger and show this organization's
/// staff the stranger's name and email address. Within the organization the number still
/// finds its one member.
pub async fn a_phone_alone_names_only_a_member_of_the_organization(h: &Harness) {
    let cista = h.cista().await;
    let elsewhere = association_with(
        h,
        &cista,
        "phone-elsewhere",
        &format!("{HEADER}201,1,Jane,Doe,jane@elsewhere.example,+13055550177,,yes\n"),
    )
    .await;
    let jane = elsewhere.owners_of("201")[0];

    let org = h.org(&cista, "phone-here").await;
    let first = format!("{HEADER}301,1,John,Roe,,+13055550177,,yes\n");
    let plan = imported(&cista, org.id, &first).await;
    assert_eq!(
        plan.people_new, 1,
        "a stranger with the number is not named"
    );
    let phones_alone: Vec<&String> = plan
        .warnings
        .iter()
        .filter(|w| w.contains("phone number but no email"))
        .collect();
    assert_eq!(phones_alone.len(), 1, "{:?}", plan.warnings);
    assert!(phones_alone[0].starts_with("line 2: John Roe has a phone number"));
    assert!(
        !phones_alone[0].contains("Jane"),
        "nothing of the other one"
    );
    assert_eq!(
        plan.owners_added,
        vec![("301".to_owned(), "John Roe".to_owned())]
    );
    let here = load(&cista, org.id).await;
    let john = here.owners_of("301")[0];
    assert_ne!(john, jane);
    let members: Vec<SubjectCode> = cista
        .store()
        .members(org.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(
        members,
        vec![john],
        "the other organization's person stays out"
    );
    assert!(
        cista
            .store()
            .membership(org.id, jane)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        cista
            .store()
            .voting()
            .owned_units(jane)
            .await
            .unwrap()
            .len(),
        1,
        "Jane owns her own unit only"
    );

    // The same number on another unit of this roster is the member it already names, though
    // two people on the platform now have it.
    let second = format!("{first}302,1,John,Roe,,+13055550177,,yes\n");
    let plan = imported(&cista, org.id, &second).await;
    assert_eq!(plan.people_new, 0, "{plan:?}");
    assert!(
        plan.warnings.iter().all(|w| !w.contains("no email")),
        "a member already on file is no new person: {:?}",
        plan.warnings
    );
    assert_eq!(
        plan.owners_added,
        vec![("302".to_owned(), "John Roe".to_owned())]
    );
    let here = load(&cista, org.id).await;
    assert_eq!(here.owners_of("302"), vec![john]);
    assert_eq!(cista.store().members(org.id).await.unwrap().len(), 1);
}

/// An email address of someone another organization knows is refused, not linked: linking
/// would make them a member without their consent and show this organization what the other
/// recorded of them. Once they accept an invitation to join, the same file links them.
pub async fn an_email_of_someone_outside_the_organization_is_refused_until_they_join(h: &Harness) {
    let cista = h.cista().await;
    let elsewhere = association_with(
        h,
        &cista,
        "email-elsewhere",
        &format!("{HEADER}201,1,Jane,Doe,jane@elsewhere.example,+13055550177,,yes\n"),
    )
    .await;
    let jane = elsewhere.owners_of("201")[0];

    let org = h.org(&cista, "email-here").await;
    let file = format!(
        "{HEADER}301,1,Jane,Doe,JANE@elsewhere.example,,,yes\n\
         302,1,Al,Bo,al@here.example,,,yes\n"
    );
    let err = cista
        .plan_import(&operator(), org.id, file.as_bytes())
        .await
        .unwrap_err();
    let Error::ImportRejected { problems, total } = err else {
        panic!("expected the file refused, got {err:?}");
    };
    assert_eq!(total, 1, "{problems:?}");
    assert_eq!(problems[0].line, 2);
    assert_eq!(problems[0].column.as_deref(), Some("email"));
    assert!(
        problems[0].message.contains("not a member"),
        "{}",
        problems[0].message
    );
    assert!(
        !problems[0].message.contains("Doe") && !problems[0].message.contains("0177"),
        "nothing of what the other organization recorded"
    );
    assert!(
        cista
            .store()
            .voting()
            .units(org.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(cista.store().members(org.id).await.unwrap().is_empty());

    // She is invited, accepts by choosing her password, and the same file links her.
    cista
        .invite(
            &operator(),
            org.id,
            cista_testkit::fixtures::invitee(
                "Jane",
                "Doe",
                "jane@elsewhere.example",
                None,
                Role::Member,
            ),
        )
        .await
        .unwrap();
    h.accept_join(&cista, "jane@elsewhere.example").await;
    let plan = imported(&cista, org.id, &file).await;
    assert_eq!(plan.people_new, 1, "Al alone is new: {plan:?}");
    let here = load(&cista, org.id).await;
    assert_eq!(here.owners_of("301"), vec![jane]);
}

/// An owner erased after an import keeps their unit's link, nameless: the next preview still
/// works (it once failed whole, `not_found`, reading the erased owner's name) and shows the
/// link removed when the file no longer names them.
pub async fn a_roster_is_still_previewed_after_an_owner_is_erased(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "erased-owner").await;
    let cy = cista
        .subject_for_email(&operator(), "cy@palm.example")
        .await
        .unwrap()
        .unwrap();
    assert!(a.owners_of("103").contains(&cy));
    cista.erase_person(&operator(), cy).await.unwrap();
    let without_cy: String = roster()
        .lines()
        .filter(|l| !l.contains("cy@palm.example"))
        .map(|l| format!("{l}\n"))
        .collect();
    let plan = cista
        .plan_import(&operator(), a.org, without_cy.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        plan.owners_removed,
        vec![("103".to_owned(), "(erased person)".to_owned())],
        "{plan:?}"
    );
    assert_eq!(plan.people_new, 0, "{plan:?}");
    imported(&cista, a.org, &without_cy).await;
    assert_eq!(load(&cista, a.org).await.owners_of("103").len(), 1);
}
