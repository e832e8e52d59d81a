//! The person vault: personal data only sealed, lookups by keyed hash, audited staff reads,
//! erasure that destroys the key and is never undone, and a vault in its own database.

use crate::Harness;
use crate::harness::{PASSWORD, invitee};
use cista_core::ports::{AccessReads as _, Account, AccountStatus, CredentialPurpose};
use cista_core::{Actor, Error, Store as _, Vault as _};
use cista_store::{ConnectOptions, SeaVault, Target};
use cista_types::{Role, SubjectCode};

const CANARY_FIRST: &str = "Zephyrine";
const CANARY_LAST: &str = "Quillfeather";
const CANARY_EMAIL: &str = "zephyrine.q.canary@example.org";
const CANARY_PHONE: &str = "+13055550199";

fn operator() -> Actor {
    Actor::operator("test")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let lower = haystack.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    lower.windows(needle.len()).any(|w| w == needle.as_bytes())
}

pub async fn the_canary_name_email_and_phone_never_reach_the_database(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let person = h
        .active_person(
            &cista,
            &org,
            invitee(
                CANARY_FIRST,
                CANARY_LAST,
                CANARY_EMAIL,
                Some(CANARY_PHONE),
                Role::Owner,
            ),
        )
        .await;
    // Exercise every path that touches the fields: a staff read, a reset, an SMS code.
    cista
        .read_people(&operator(), org.id, &[person.subject], "test")
        .await
        .unwrap();
    cista.request_password_reset(CANARY_EMAIL).await.unwrap();
    cista.request_sms_code(CANARY_PHONE).await.unwrap();
    let raw = h.raw_database_bytes().await;
    assert!(raw.len() > 10_000, "the dump is not empty");
    for canary in [
        CANARY_FIRST,
        CANARY_LAST,
        CANARY_EMAIL,
        "zephyrine.q.canary",
        &CANARY_PHONE[1..],
    ] {
        assert!(!contains(&raw, canary), "`{canary}` is stored in the clear");
    }
    // The data is there, sealed: the person can be found and read.
    let rows = cista
        .read_people(&operator(), org.id, &[person.subject], "test")
        .await
        .unwrap();
    assert_eq!(rows[0].1.as_ref().unwrap().last_name.as_str(), CANARY_LAST);
}

pub async fn lookups_by_email_ignore_case_and_never_store_the_address(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let first = cista
        .invite(
            &operator(),
            org.id,
            invitee("Ann", "Lee", "Ann.Lee@Example.org", None, Role::Member),
        )
        .await
        .unwrap();
    // The same address in another case is the same person.
    let other = h.org(&cista, "bayside").await;
    let again = cista
        .invite(
            &operator(),
            other.id,
            invitee("Ann", "Lee", "ann.lee@example.ORG", None, Role::Member),
        )
        .await
        .unwrap();
    assert_eq!(first.subject, again.subject);
    assert!(!again.new_person);
    let err = cista
        .invite(
            &operator(),
            org.id,
            invitee("Ann", "Lee", "ann.lee@example.org", None, Role::Member),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(h.vault.counts().await.unwrap(), (1, 0));
}

pub async fn staff_reads_of_personal_data_are_audited_and_scoped(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let other = h.org(&cista, "bayside").await;
    let member = cista
        .invite(
            &operator(),
            org.id,
            invitee("Bo", "Ray", "bo@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    let before = h.store.audit_head().await.unwrap().size;
    cista
        .read_people(&operator(), org.id, &[member.subject], "people page")
        .await
        .unwrap();
    let entries = h.store.audit_entries(before, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind, "person.read");
    assert!(entries[0].details.contains(&member.subject.to_string()));
    assert!(
        !entries[0].details.contains("bo@example.org"),
        "no personal data in the log"
    );
    // Not a member of that organization: refused.
    let err = cista
        .read_people(&operator(), other.id, &[member.subject], "x")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert_eq!(
        cista
            .read_people(&Actor::Anonymous, org.id, &[member.subject], "x")
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
}

/// Many people are read at once, in reads of a thousand subjects: their vault rows (those on
/// file, whoever is asked for twice once, never an erased or an unknown subject) and their
/// accounts (an erased person's too, marked erased); and a staff read of many people gives
/// each their own fields, in the order asked.
pub async fn many_people_are_read_at_once(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let mut invited = Vec::new();
    for (first, email) in [("Ana", "ana@example.org"), ("Bea", "bea@example.org")] {
        let person = cista
            .invite(
                &operator(),
                org.id,
                invitee(first, "Lee", email, None, Role::Member),
            )
            .await
            .unwrap();
        invited.push(person.subject);
    }
    let gone = cista
        .invite(
            &operator(),
            org.id,
            invitee("Cy", "Lee", "cy@example.org", None, Role::Member),
        )
        .await
        .unwrap()
        .subject;
    cista.erase_person(&operator(), gone).await.unwrap();
    // A thousand more people, so that the subjects asked for take two reads.
    let template = h.vault.person(invited[0]).await.unwrap().unwrap();
    let mut asked: Vec<SubjectCode> = Vec::new();
    for i in 0..1000 {
        let subject = SubjectCode::from_i64(7_000_000 + i);
        let row = cista_core::ports::VaultPerson {
            subject,
            email_index: None,
            ..template.clone()
        };
        h.vault.insert_person(&row).await.unwrap();
        asked.push(subject);
    }
    // Their accounts after: on SQLite the vault shares the database, which one transaction
    // at a time writes.
    let mut tx = h.store.begin().await.unwrap();
    for subject in &asked {
        tx.insert_account(&Account::new_invited(*subject, template.created_at))
            .await
            .unwrap();
    }
    tx.commit_housekeeping().await.unwrap();
    asked.extend([
        invited[1],
        gone,
        SubjectCode::from_i64(9_999_999),
        invited[0],
        invited[1],
    ]);
    let mut found: Vec<SubjectCode> = h
        .vault
        .people(&asked)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.subject)
        .collect();
    found.sort();
    let mut expected: Vec<SubjectCode> = asked[..1000].to_vec();
    expected.extend(&invited);
    expected.sort();
    assert_eq!(found, expected);
    assert!(h.vault.people(&[]).await.unwrap().is_empty());
    let mut accounts: Vec<(SubjectCode, AccountStatus)> = h
        .store
        .accounts(&asked)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.subject, a.status))
        .collect();
    accounts.sort_by_key(|(s, _)| *s);
    let mut expected: Vec<(SubjectCode, AccountStatus)> = expected
        .into_iter()
        .map(|s| (s, AccountStatus::Invited))
        .chain([(gone, AccountStatus::Erased)])
        .collect();
    expected.sort_by_key(|(s, _)| *s);
    assert_eq!(accounts, expected);
    assert!(h.store.accounts(&[]).await.unwrap().is_empty());

    let read = cista
        .read_people(
            &operator(),
            org.id,
            &[invited[1], invited[0]],
            "people page",
        )
        .await
        .unwrap();
    let firsts: Vec<_> = read
        .iter()
        .map(|(s, f)| (*s, f.as_ref().unwrap().first_name.to_string()))
        .collect();
    assert_eq!(
        firsts,
        [
            (invited[1], "Bea".to_owned()),
            (invited[0], "Ana".to_owned())
        ]
    );
}

pub async fn an_erased_person_is_unreadable_and_never_recreated(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let person = h
        .active_person(
            &cista,
            &org,
            invitee(
                "Cy",
                "Dale",
                "cy@example.org",
                Some("+13055550100"),
                Role::Member,
            ),
        )
        .await;
    let signed_in = cista.sign_in("cy@example.org", PASSWORD).await.unwrap();
    let vault_row = h.vault.person(person.subject).await.unwrap().unwrap();

    cista
        .erase_person(&operator(), person.subject)
        .await
        .unwrap();

    assert!(
        h.vault.person(person.subject).await.unwrap().is_none(),
        "key and fields destroyed"
    );
    let erased_at = h.vault.tombstone(person.subject).await.unwrap();
    assert!(erased_at.is_some());
    // The listing the erasure ledger beside the backups is fed from.
    let tombstones = h.vault.tombstones().await.unwrap();
    assert!(
        tombstones.contains(&(person.subject, erased_at.unwrap())),
        "{tombstones:?}"
    );
    let account = h.store.account(person.subject).await.unwrap().unwrap();
    assert_eq!(account.status, AccountStatus::Erased);
    assert!(account.password_hash.is_none());
    assert!(
        h.store
            .memberships_of(person.subject)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        cista
            .resolve_session(&signed_in.token)
            .await
            .unwrap()
            .is_none(),
        "sessions ended"
    );
    assert_eq!(
        cista
            .sign_in("cy@example.org", PASSWORD)
            .await
            .unwrap_err()
            .code(),
        "sign_in_failed"
    );
    // The tombstone refuses the same subject forever, even with its old row.
    assert!(matches!(
        h.vault.insert_person(&vault_row).await,
        Err(Error::PersonErased)
    ));
    // Erasing again is harmless; the log records the erasure once per call.
    cista
        .erase_person(&operator(), person.subject)
        .await
        .unwrap();
    let entries = h.store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(
        entries.iter().filter(|e| e.kind == "person.erased").count(),
        2
    );
    // The first step (the account marked before the vault) once: the second call found it
    // marked already.
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.kind == "person.erasure_begun")
            .count(),
        1
    );
    assert!(cista.verify_audit(&operator()).await.unwrap().is_ok());
    let unknown = SubjectCode::from_i64(12345);
    assert_eq!(
        cista
            .erase_person(&operator(), unknown)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
}

pub async fn erasure_is_allowed_only_to_owners_and_admins_of_the_persons_organization(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let other = h.org(&cista, "bayside").await;
    let admin_elsewhere = h
        .active_person(
            &cista,
            &other,
            invitee("Ed", "Fox", "ed@example.org", None, Role::Admin),
        )
        .await;
    let member = cista
        .invite(
            &operator(),
            org.id,
            invitee("Gil", "Ho", "gil@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    let admin_actor = crate::access::actor_for(&cista, h, "ed@example.org").await;
    let err = cista
        .erase_person(&admin_actor, member.subject)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert!(h.vault.person(member.subject).await.unwrap().is_some());
    let _ = admin_elsewhere;
}

/// The erasure reaches every organization the person belongs to, so staff erase only people
/// wholly within their reach: not a member of another organization too (one person, one vault
/// entry, whichever organization added them), and, for administrators, not an owner of their
/// own (two owners here, so the last-administrator rule is not what refuses).
pub async fn erasure_reaches_only_people_wholly_within_the_erasers_reach(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let other = h.org(&cista, "bayside").await;
    for (first, email, role) in [
        ("Ed", "ed@example.org", Role::Admin),
        ("Ola", "ola@example.org", Role::Owner),
        ("Pia", "pia@example.org", Role::Owner),
    ] {
        h.active_person(&cista, &org, invitee(first, "Fox", email, None, role))
            .await;
    }
    let both = invitee("Gil", "Ho", "gil@example.org", None, Role::Member);
    let shared = cista
        .invite(&operator(), other.id, both.clone())
        .await
        .unwrap()
        .subject;
    let again = cista.invite(&operator(), org.id, both).await.unwrap();
    assert_eq!(again.subject, shared, "one person in both organizations");
    h.accept_join(&cista, "gil@example.org").await;
    let only_here = cista
        .invite(
            &operator(),
            org.id,
            invitee("Ivo", "Ru", "ivo@example.org", None, Role::Member),
        )
        .await
        .unwrap()
        .subject;
    let pia = cista
        .subject_for_email(&operator(), "pia@example.org")
        .await
        .unwrap()
        .unwrap();
    let admin = crate::access::actor_for(&cista, h, "ed@example.org").await;
    let owner = crate::access::actor_for(&cista, h, "ola@example.org").await;

    for (who, whom) in [(&admin, shared), (&owner, shared), (&admin, pia)] {
        let e = cista.erase_person(who, whom).await.unwrap_err();
        assert_eq!(e.code(), "forbidden", "{e}");
        assert!(h.vault.person(whom).await.unwrap().is_some(), "not erased");
    }
    let roles = |subject| {
        let store = h.store.clone();
        async move {
            let mut m: Vec<_> = store
                .memberships_of(subject)
                .await
                .unwrap()
                .into_iter()
                .map(|m| (m.org, m.role))
                .collect();
            m.sort();
            m
        }
    };
    assert_eq!(
        roles(pia).await,
        [(org.id, Role::Owner)],
        "nor stepped down"
    );
    assert_eq!(roles(shared).await.len(), 2, "a member of both still");

    // Within reach: a member of this organization only; the operator reaches everyone.
    cista.erase_person(&admin, only_here).await.unwrap();
    assert!(h.vault.person(only_here).await.unwrap().is_none());
    cista.erase_person(&operator(), shared).await.unwrap();
    assert!(roles(shared).await.is_empty());
    cista.erase_person(&owner, pia).await.unwrap();
    assert!(h.vault.tombstone(pia).await.unwrap().is_some());
}

/// An address stored before addresses had to be printable (a rare Han character, outside the
/// CJK block the fonts cover) still finds its person: they sign in with it, and the operator finds them by
/// it. New addresses are refused such characters where they are typed (`Email::parse`).
pub async fn an_address_stored_before_the_printable_rule_still_signs_in(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let address = "\u{20000}ld@example.org";
    assert!(
        cista_types::Email::parse(address).is_err(),
        "refused when typed now"
    );
    let mut who = invitee(
        "Old",
        "Address",
        "placeholder@example.org",
        None,
        Role::Member,
    );
    who.email = cista_types::Email::from_stored(address).unwrap();
    let invited = h.active_person(&cista, &org, who).await;
    let signed_in = cista.sign_in(address, PASSWORD).await.unwrap();
    let session = cista
        .resolve_session(&signed_in.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.subject, invited.subject);
    assert_eq!(
        cista.subject_for_email(&operator(), address).await.unwrap(),
        Some(invited.subject)
    );
}

pub async fn the_vault_can_live_in_its_own_database(h: &Harness) {
    // A second database on the same backend: another SQLite file, or another schema.
    let (target, cleanup) = match &h.db.target {
        Target::SqliteFile(_) => (Target::SqliteFile(h.db.dir.path().join("vault.db")), None),
        _ => {
            let schema = cista_testkit::postgres::PrivateSchema::create()
                .await
                .expect("a PostgreSQL run has a server");
            (Target::parse(&schema.url()).unwrap(), Some(schema))
        }
    };
    let vault = SeaVault::connect(&target, &ConnectOptions::default())
        .await
        .unwrap();
    vault.migrate().await.unwrap();
    let vault = std::sync::Arc::new(vault);
    let mut deps = h.deps_with(h.key_file());
    deps.vault = vault.clone();
    let (cista, _) = cista_core::Cista::open_or_initialize(deps, &operator(), None)
        .await
        .unwrap();
    let org = h.org(&cista, "palm-court").await;
    let invited = cista
        .invite(
            &operator(),
            org.id,
            invitee("Ida", "Jo", "ida@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    assert_eq!(
        vault.counts().await.unwrap(),
        (1, 0),
        "the person is in the separate vault"
    );
    assert_eq!(
        h.vault.counts().await.unwrap(),
        (0, 0),
        "and not in the main database"
    );
    assert!(vault.person(invited.subject).await.unwrap().is_some());
    let link = match h.last_notice_to(&cista, "ida@example.org").await {
        cista_core::platform::notices::Notice::Invitation { link, .. } => link,
        other => panic!("{other:?}"),
    };
    cista
        .set_password_with_link(
            crate::harness::token_of(&link),
            CredentialPurpose::Invite,
            &cista_types::Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap();
    cista.sign_in("ida@example.org", PASSWORD).await.unwrap();
    if let Some(schema) = cleanup {
        schema.drop_now().await;
    }
}
