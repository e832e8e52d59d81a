//! Every state-changing form is safe to repeat, and every link leads on. Over real HTTPS with
//! browsers that keep cookies: a vote cast follows Post/Redirect/Get and its receipt survives
//! a reload and the back button; the same vote form sent again (a reload of the POST, a
//! double-click) gets the first receipt and records no refusal; a staff form sent twice runs
//! once; a form shown again with its errors can be sent again; a `/vote/…` link opened while
//! signed out comes back to the ballot after signing in; choosing a password from an
//! invitation signs in and goes on; reminders carry a set-password link to the ballot; signing
//! out ends this device only unless asked otherwise; an SMS session on a staff page gets a
//! page with the next step.

use crate::people::{self, PASSWORD, last_notice};
use crate::voting::{activate, import_roster, open_ballot, operator};
use crate::web::{between, follow, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::platform::notices::Notice;
use cista_core::products::voting::VotingNotice;
use cista_core::products::voting::definition::Secrecy;
use cista_types::{BallotId, OrgId, Role, UnitId};
use reqwest::{Client, StatusCode};
use time::Duration;

async fn palm_court() -> (TestServer, OrgId) {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    import_roster(cista, org).await;
    (server, org)
}

async fn unit(server: &TestServer, org: OrgId, label: &str) -> UnitId {
    server
        .state
        .cista
        .store()
        .voting()
        .units(org)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.label.as_str() == label)
        .unwrap()
        .id
}

fn tracker_on(receipt: &str) -> String {
    between(receipt, r#"<p class="tracker"><code>"#, "<").to_owned()
}

/// The vote form's fields as the page would send them.
fn vote_fields<'a>(form: &'a str, choices: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let definition = between(form, r#"name="definition" value=""#, "\"");
    let mut fields = vec![("definition", definition)];
    fields.extend_from_slice(choices);
    fields
}

async fn counts(server: &TestServer, ballot: BallotId) -> (u64, usize) {
    let store = server.state.cista.store();
    (
        store.voting().box_count(ballot).await.unwrap(),
        store.voting().refusals(ballot).await.unwrap().len(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_receipt_is_the_same_receipt_and_no_refusal_is_recorded() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    activate(cista, org, "ana@palm.example").await;
    let ana = sign_in(&server, "ana@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let a1 = unit(&server, org, "1A").await;
    let form_path = format!("/vote/{ballot}/unit/{a1}");
    let (_, form) = page(&ana, &server, &form_path).await;
    let token = csrf_in(&form);
    let fields = vote_fields(&form, &[("c1", "yes"), ("c2", "1")]);

    // Post/Redirect/Get: the cast answers with a 303 to the receipt page.
    let r = post(&ana, &server, &form_path, &token, &fields).await;
    let (to, status, receipt) = follow(&ana, &server, r).await;
    assert_eq!(to, format!("/vote/{ballot}/unit/{a1}/receipt"));
    assert_eq!(status, StatusCode::OK);
    let tracker = tracker_on(&receipt);
    assert!(receipt.contains("Alma Diaz"), "{receipt}");
    assert!(
        receipt.contains(&format!("/e/{ballot}/bulletin")),
        "{receipt}"
    );
    assert!(receipt.contains("data-print"), "a Print button: {receipt}");

    // Reload: the same receipt.
    let (status, again) = page(&ana, &server, &to).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tracker_on(&again), tracker);

    // The browser re-sends the POST (a reload of the POST, a restored tab): the first
    // receipt again, and nothing recorded as a refused attempt.
    let r = post(&ana, &server, &form_path, &token, &fields).await;
    let (to_again, _, resent) = follow(&ana, &server, r).await;
    assert_eq!(to_again, to);
    assert_eq!(tracker_on(&resent), tracker);
    assert_eq!(counts(&server, ballot).await, (1, 0));

    // Back to the form: the receipt, not a refusal.
    let (status, back) = page(&ana, &server, &form_path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tracker_on(&back), tracker);

    // A new browser session (the cookie is bound to the session): what the vote was, and why
    // the receipt cannot be shown again — never the choices of a secret ballot.
    let other = sign_in(&server, "ana@palm.example").await;
    let (status, voted) = page(&other, &server, &to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(voted.contains("Unit 1A has voted"), "{voted}");
    assert!(
        !voted.contains(&tracker) && !voted.contains("Alma Diaz"),
        "{voted}"
    );

    // A different form (another page's submission id) is a second vote: a friendly page
    // that says when and how the unit voted, and the attempt is recorded.
    let (_, fresh) = page(&other, &server, "/vote").await;
    let r = post(&other, &server, &form_path, &csrf_in(&fresh), &fields).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("Unit 1A already voted on"), "{html}");
    assert!(html.contains("Back to the ballot"), "{html}");
    assert_eq!(counts(&server, ballot).await, (1, 1));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_casts_once_and_both_answers_lead_to_the_same_receipt() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    activate(cista, org, "bo@palm.example").await;
    let bo = sign_in(&server, "bo@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Recorded, Duration::hours(1)).await;
    let a2 = unit(&server, org, "2A").await;
    let form_path = format!("/vote/{ballot}/unit/{a2}");
    let (_, form) = page(&bo, &server, &form_path).await;
    let token = csrf_in(&form);
    let fields = vote_fields(&form, &[("c1", "no"), ("c2", "2")]);
    let (first, second) = tokio::join!(
        post(&bo, &server, &form_path, &token, &fields),
        post(&bo, &server, &form_path, &token, &fields),
    );
    let mut trackers = Vec::new();
    for r in [first, second] {
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        // Each answer carries the receipt, so whichever the browser keeps shows it.
        assert!(
            r.headers()
                .get_all("set-cookie")
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("__Host-cista_receipt_")),
            "{:?}",
            r.headers()
        );
        let (_, _, receipt) = follow(&bo, &server, r).await;
        trackers.push(tracker_on(&receipt));
    }
    assert_eq!(trackers[0], trackers[1]);
    assert_eq!(counts(&server, ballot).await, (1, 0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_form_sent_twice_runs_once_and_a_corrected_form_can_be_sent_again() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    people::active(cista, org, "admin@palm.example", Role::Admin).await;
    let admin = sign_in(&server, "admin@palm.example").await;
    let (_, invite) = page(&admin, &server, "/admin/palm-court/invite").await;
    let token = csrf_in(&invite);
    let fields = [
        ("first_name", "Quinn"),
        ("last_name", "Vale"),
        ("email", "quinn@palm.example"),
        ("phone", ""),
        ("role", "inspector"),
    ];
    let r = post(&admin, &server, "/admin/palm-court/invite", &token, &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let first_to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(r.headers().get("cista-repeat").is_none());
    // The same form again (reload, double-click): the first outcome, not a second invitation
    // or a "this address is already invited" error.
    let r = post(&admin, &server, "/admin/palm-court/invite", &token, &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"].to_str().unwrap(), first_to);
    assert_eq!(r.headers()["cista-repeat"], "first-outcome");
    // Sent to another spelling of the same address, it is the same form: still a repeat.
    for spelled in ["/admin/palm%2Dcourt/invite", "/admin/%70alm-court/invite"] {
        let r = post(&admin, &server, spelled, &token, &fields).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{spelled}");
        assert_eq!(r.headers()["cista-repeat"], "first-outcome", "{spelled}");
    }
    let invitations = cista
        .store()
        .audit_entries(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "person.invited")
        .count();
    assert_eq!(
        invitations, 2,
        "the admin's own invitation and Quinn's, once"
    );

    // A form shown again with its errors changed nothing: correcting it and sending the same
    // page's form again runs it.
    let (_, invite) = page(&admin, &server, "/admin/palm-court/invite").await;
    let token = csrf_in(&invite);
    let bad = [
        ("first_name", "Rae"),
        ("last_name", "Wong"),
        ("email", "not-an-address"),
        ("phone", ""),
        ("role", "inspector"),
    ];
    let r = post(&admin, &server, "/admin/palm-court/invite", &token, &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(&admin, &server, "/admin/palm-court/invite", &token, &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "runs again");
    let good = [
        ("first_name", "Rae"),
        ("last_name", "Wong"),
        ("email", "rae@palm.example"),
        ("phone", ""),
        ("role", "inspector"),
    ];
    let r = post(&admin, &server, "/admin/palm-court/invite", &token, &good).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers().get("cista-repeat").is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_link_opened_signed_out_leads_back_to_the_ballot_after_sign_in() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    activate(cista, org, "ana@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let browser = server.browser();
    let r = browser
        .get(server.url(&format!("/vote/{ballot}")))
        .send()
        .await
        .unwrap();
    let (to, status, sign_in_page) = follow(&browser, &server, r).await;
    assert_eq!(to, format!("/sign-in?next=%2Fvote%2F{ballot}"));
    assert_eq!(status, StatusCode::OK);
    assert!(
        sign_in_page.contains("Sign in to continue"),
        "{sign_in_page}"
    );
    let action =
        between(&sign_in_page, r#"<form method="post" action=""#, "\"").replace("&amp;", "&");
    assert_eq!(action, to);
    let r = post(
        &browser,
        &server,
        &action,
        &csrf_in(&sign_in_page),
        &[("email", "ana@palm.example"), ("password", PASSWORD)],
    )
    .await;
    let (to, status, ballot_page) = follow(&browser, &server, r).await;
    assert_eq!(to, format!("/vote/{ballot}"));
    assert_eq!(status, StatusCode::OK);
    assert!(ballot_page.contains("Annual meeting"), "{ballot_page}");

    // Only a page of this site is a place to go back to.
    for evil in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2Fsign-out",
    ] {
        let fresh = server.browser();
        let (_, html) = page(&fresh, &server, &format!("/sign-in?next={evil}")).await;
        let action = between(&html, r#"<form method="post" action=""#, "\"").to_owned();
        assert_eq!(action, "/sign-in", "{evil}");
        let r = post(
            &fresh,
            &server,
            &format!("/sign-in?next={evil}"),
            &csrf_in(&html),
            &[("email", "ana@palm.example"), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(r.headers()["location"], "/me", "{evil}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choosing_a_password_from_a_reminder_signs_in_and_opens_the_ballot() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    // Fay never chose a password; Ana did.
    activate(cista, org, "ana@palm.example").await;
    // An earlier reminder, of another ballot, already gave Fay a set-password link.
    while last_notice(cista, "fay@palm.example").await.is_some() {}
    let other = open_ballot(cista, org, Secrecy::Recorded, Duration::hours(2)).await;
    cista.send_reminders(&operator(), org, other).await.unwrap();
    let Some(Notice::Voting(VotingNotice::BallotReminder {
        set_password_link: Some(earlier),
        ..
    })) = last_notice(cista, "fay@palm.example").await
    else {
        panic!("the first reminder carries a set-password link");
    };
    let earlier = earlier[earlier.find("/i/").unwrap()..].to_owned();
    cista
        .send_reminders(&operator(), org, ballot)
        .await
        .unwrap();
    let due = cista
        .due_deliveries(&cista_core::Actor::System, 100)
        .await
        .unwrap();
    let reminder = |address: &str| {
        due.iter()
            .find(|d| {
                d.address == address
                    && matches!(
                        d.notice,
                        Notice::Voting(VotingNotice::BallotReminder { .. })
                    )
            })
            .map(|d| d.notice.clone())
    };
    let Some(Notice::Voting(VotingNotice::BallotReminder {
        set_password_link: Some(link),
        ..
    })) = reminder("fay@palm.example")
    else {
        panic!("Fay's reminder must carry a set-password link: {due:?}");
    };
    assert!(
        link.ends_with(&format!("?next=%2Fvote%2F{ballot}")),
        "{link}"
    );
    let Some(Notice::Voting(VotingNotice::BallotReminder {
        set_password_link: None,
        ..
    })) = reminder("ana@palm.example")
    else {
        panic!("Ana has a password: no link");
    };
    let rendered = cista_notify::render::render(
        due.iter()
            .find(|d| {
                d.address == "fay@palm.example"
                    && matches!(
                        d.notice,
                        Notice::Voting(VotingNotice::BallotReminder { .. })
                    )
            })
            .unwrap(),
    )
    .unwrap();
    assert!(rendered.text.contains(&link), "{}", rendered.text);

    // The reminder's link did not cancel the earlier email's: either leads her on.
    let browser = server.browser();
    let (status, html) = page(&browser, &server, &earlier).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(r#"name="confirm""#), "{html}");

    // Following it: choose a password, and land on the ballot, signed in.
    let path = link[link.find("/i/").unwrap()..].to_owned();
    let (status, html) = page(&browser, &server, &path).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let action = between(&html, r#"<form method="post" action=""#, "\"").replace("&amp;", "&");
    assert_eq!(action, path);
    let r = post(
        &browser,
        &server,
        &action,
        &csrf_in(&html),
        &[("password", PASSWORD), ("confirm", PASSWORD)],
    )
    .await;
    let (to, status, ballot_page) = follow(&browser, &server, r).await;
    assert_eq!(to, format!("/vote/{ballot}"));
    assert_eq!(status, StatusCode::OK);
    assert!(ballot_page.contains("Annual meeting"), "{ballot_page}");
    // Once she chose a password, the other links have done their job.
    let (status, _) = page(&server.browser(), &server, &earlier).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the earlier link ends with the first use"
    );
    server.stop().await;
}

async fn signed_in_at(browser: &Client, server: &TestServer) -> bool {
    page(browser, server, "/me").await.0 == StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_this_device_and_sign_out_everywhere_ends_them_all() {
    let (server, org) = palm_court().await;
    activate(&server.state.cista, org, "ana@palm.example").await;
    let phone = sign_in(&server, "ana@palm.example").await;
    let laptop = sign_in(&server, "ana@palm.example").await;
    let tablet = sign_in(&server, "ana@palm.example").await;
    let (_, me) = page(&phone, &server, "/me").await;
    let r = post(&phone, &server, "/sign-out", &csrf_in(&me), &[]).await;
    let (_, _, html) = follow(&phone, &server, r).await;
    assert!(html.contains("signed out on this device"), "{html}");
    assert!(!signed_in_at(&phone, &server).await);
    assert!(signed_in_at(&laptop, &server).await);
    assert!(signed_in_at(&tablet, &server).await);
    let (_, me) = page(&laptop, &server, "/me").await;
    let r = post(&laptop, &server, "/sign-out/everywhere", &csrf_in(&me), &[]).await;
    let (_, _, html) = follow(&laptop, &server, r).await;
    assert!(html.contains("signed out on every device"), "{html}");
    assert!(!signed_in_at(&laptop, &server).await);
    assert!(!signed_in_at(&tablet, &server).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_ballot_says_so_and_shows_the_weight_before_the_vote() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    activate(cista, org, "ana@palm.example").await;
    let ana = sign_in(&server, "ana@palm.example").await;
    let recorded = weighted_recorded_ballot(cista, org).await;
    let per_unit = open_ballot(cista, org, Secrecy::Recorded, Duration::hours(1)).await;
    let secret = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let a1 = unit(&server, org, "1A").await;
    let (_, form) = page(&ana, &server, &format!("/vote/{recorded}/unit/{a1}")).await;
    assert!(
        form.contains("This is a recorded ballot.")
            && form.contains("The association's record will show how unit 1A voted")
            && form.contains("its vote counts with unit 1A's voting interest of 1"),
        "{form}"
    );
    let (_, form) = page(&ana, &server, &format!("/vote/{per_unit}/unit/{a1}")).await;
    assert!(form.contains("This is a recorded ballot."), "{form}");
    assert!(
        !form.contains("voting interest"),
        "one vote per unit: {form}"
    );
    let (_, form) = page(&ana, &server, &format!("/vote/{secret}/unit/{a1}")).await;
    assert!(!form.contains("recorded ballot"), "{form}");
    assert!(form.contains("This is a secret ballot"), "{form}");
    server.stop().await;
}

/// A weighted, recorded ballot with one resolution, open for an hour.
async fn weighted_recorded_ballot(cista: &cista_core::Cista, org: OrgId) -> BallotId {
    use cista_core::products::voting::ballots::{BallotSettings, NewContest};
    use cista_core::products::voting::definition::{ContestKind, Threshold, Weighting};
    use cista_types::{Clock as _, Percent, SystemClock};
    let now = SystemClock.now();
    let id = cista
        .create_ballot(
            &operator(),
            org,
            BallotSettings {
                title: "Budget".to_owned(),
                description: String::new(),
                opens_at: now.plus(Duration::minutes(-1)),
                closes_at: now.plus(Duration::hours(1)),
                secrecy: Secrecy::Recorded,
                weighting: Weighting::Weighted,
                quorum: Percent::parse("30").unwrap(),
                min_turnout: None,
                paper: true,
                notify_sms: false,
                reminder_hours: Vec::new(),
            },
        )
        .await
        .unwrap();
    cista
        .add_contest(
            &operator(),
            org,
            id,
            NewContest {
                title: "Adopt the budget".to_owned(),
                description: String::new(),
                kind: ContestKind::Resolution {
                    threshold: Threshold::MajorityOfCast,
                },
            },
        )
        .await
        .unwrap();
    cista.publish_ballot(&operator(), org, id).await.unwrap();
    id
}
