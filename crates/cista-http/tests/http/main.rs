//! HTTP tests: a real HTTPS server on a free port with its own database, driven by a real
//! client; and the middleware in process for the failure paths (panics, timeouts).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod access;
mod advisor_results;
mod api;
mod assessment_builder;
mod breaches_pages;
mod collect_api;
mod collect_pages;
mod disclosure;
mod embed;
mod errors;
mod headers;
mod import;
mod intake_api;
mod intake_digest;
mod map_tiles;
mod my_data;
mod password_change;
mod record_forms_pages;
mod records_exports;
mod records_pages;
mod repeats;
mod roster;
mod server;
mod staff_voting;
mod trust;
mod vote;
mod webhooks_pages;
mod words;

pub use cista_testkit::app::{Options, TestServer, on_postgres, state_for};
pub use cista_testkit::fixtures::csrf_in;
pub use cista_testkit::instance::{cista_in, cista_on, cista_with_clock};

/// A server whose public forms take `per_minute` posts from one address (and answer
/// enumeration-sensitive forms after 10 ms at least).
pub async fn server_limiting_forms_to(per_minute: u32) -> TestServer {
    TestServer::start(Options {
        auth_limits: cista_http::web::limits::AuthLimits {
            per_minute,
            response_floor: std::time::Duration::from_millis(10),
        },
        ..Options::default()
    })
    .await
}

pub mod people {
    //! Making people for tests through the core, and reading what the outbox would send.
    use cista_core::platform::access::invitations::Invitee;
    use cista_core::platform::notices::{DeliveryOutcome, Notice};
    use cista_core::ports::CredentialPurpose;
    use cista_core::{Actor, Cista};
    use cista_types::{OrgId, OrgName, OrgSlug, Password, Role};

    pub use cista_testkit::fixtures::PASSWORD;

    pub async fn org(cista: &Cista, slug: &str) -> OrgId {
        cista
            .create_organization(
                &Actor::operator("test"),
                OrgName::parse(&format!("Org {slug}")).unwrap(),
                OrgSlug::parse(slug).unwrap(),
            )
            .await
            .unwrap()
            .id
    }

    /// Delivers (takes) everything due and returns the newest notice sent to `address`.
    pub async fn last_notice(cista: &Cista, address: &str) -> Option<Notice> {
        let due = cista.due_deliveries(&Actor::System, 100).await.unwrap();
        for d in &due {
            cista
                .record_delivery(&Actor::System, d.id, d.attempts, DeliveryOutcome::Delivered)
                .await
                .unwrap();
        }
        due.into_iter()
            .rev()
            .find(|d| d.address == address)
            .map(|d| d.notice)
    }

    pub fn invitee(email: &str, phone: Option<&str>, role: Role) -> Invitee {
        cista_testkit::fixtures::invitee("Test", "Person", email, phone, role)
    }

    /// Invites someone (as the operator) and returns their link, undelivered.
    pub async fn invited(
        cista: &Cista,
        org: OrgId,
        email: &str,
        phone: Option<&str>,
        role: Role,
    ) -> String {
        cista
            .invite(&Actor::operator("test"), org, invitee(email, phone, role))
            .await
            .unwrap()
            .link
            .unwrap()
    }

    /// Someone with a password.
    pub async fn active(
        cista: &Cista,
        org: OrgId,
        email: &str,
        role: Role,
    ) -> cista_types::SubjectCode {
        let link = invited(cista, org, email, None, role).await;
        cista
            .set_password_with_link(
                cista_testkit::fixtures::token_of(&link),
                CredentialPurpose::Invite,
                &Password::parse(PASSWORD).unwrap(),
            )
            .await
            .unwrap()
    }
}

pub mod web {
    //! Driving pages as a browser does: GET a page, POST a form with our Origin and the
    //! page's CSRF token, sign in (enrolling a second factor where the role requires it).
    use crate::people::PASSWORD;
    use crate::{TestServer, csrf_in};
    use cista_crypto::totp::TotpSecret;
    use reqwest::{Client, StatusCode};

    /// The text between `start` and the next `end`.
    pub fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
        let from = html
            .find(start)
            .unwrap_or_else(|| panic!("`{start}` not in page"))
            + start.len();
        html[from..].split(end).next().unwrap()
    }

    pub async fn page(browser: &Client, server: &TestServer, path: &str) -> (StatusCode, String) {
        let r = browser.get(server.url(path)).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Posts a form as a browser would: our Origin, the page's CSRF token.
    pub async fn post(
        browser: &Client,
        server: &TestServer,
        path: &str,
        token: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![("csrf", token)];
        form.extend_from_slice(fields);
        browser
            .post(server.url(path))
            .header("origin", server.origin.as_str())
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    pub fn now_code(secret: &TotpSecret) -> String {
        let now = cista_types::Clock::now(&cista_types::SystemClock)
            .as_offset()
            .unix_timestamp() as u64;
        secret.code_at(now).unwrap()
    }

    /// Signs a browser in, enrolling a second factor when the role requires it.
    pub async fn sign_in(server: &TestServer, email: &str) -> Client {
        let browser = server.browser();
        let (_, html) = page(&browser, server, "/sign-in").await;
        let r = post(
            &browser,
            server,
            "/sign-in",
            &csrf_in(&html),
            &[("email", email), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {email}");
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        if to == "/mfa/enrol" {
            let (_, html) = page(&browser, server, "/mfa/enrol").await;
            let secret =
                TotpSecret::from_base32(between(&html, r#"<code class="secret">"#, "<")).unwrap();
            let r = post(
                &browser,
                server,
                "/mfa/enrol",
                &csrf_in(&html),
                &[("code", &now_code(&secret))],
            )
            .await;
            // Post/Redirect/Get: the codes are shown by the page the redirect leads to.
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let to = r.headers()["location"].to_str().unwrap().to_owned();
            assert_eq!(to, "/mfa/recovery-codes");
            let (status, codes) = page(&browser, server, &to).await;
            assert_eq!(status, StatusCode::OK);
            assert!(codes.contains("recovery codes"), "{codes}");
        }
        browser
    }

    /// Follows a response's 303 (as a browser does) and returns the page it leads to.
    pub async fn follow(
        browser: &Client,
        server: &TestServer,
        response: reqwest::Response,
    ) -> (String, StatusCode, String) {
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "expected a redirect: {}",
            response.text().await.unwrap_or_default()
        );
        let to = response.headers()["location"].to_str().unwrap().to_owned();
        let (status, html) = page(browser, server, &to).await;
        (to, status, html)
    }
}

pub mod voting {
    //! An association for voting tests, made through the core: a roster, owners with
    //! passwords, and open ballots.
    use crate::people::{PASSWORD, last_notice};
    use cista_core::platform::notices::Notice;
    use cista_core::ports::CredentialPurpose;
    use cista_core::products::voting::ballots::{BallotSettings, NewContest};
    use cista_core::products::voting::definition::{
        ContestKind, Secrecy, Threshold, Weighting, candidates_from_lines,
    };
    use cista_core::{Actor, Cista};
    use cista_types::{BallotId, Clock as _, OrgId, Password, Percent, SystemClock};
    use time::Duration;

    /// Six units. Ana owns 1A and 1B; 2A has two owners and no designated voter; 3A has no
    /// consent to online voting; 3B opted out (paper only).
    pub const ROSTER: &str = "unit,weight,first_name,last_name,email,phone,designated_voter,consent\n\
        1A,1,Ana,Ruiz,ana@palm.example,+13055550101,,yes\n\
        1B,1,Ana,Ruiz,ana@palm.example,,,yes\n\
        2A,1,Bo,Li,bo@palm.example,,,yes\n\
        2A,,Cy,Li,cy@palm.example,,,\n\
        3A,1,Fay,Oh,fay@palm.example,,,\n\
        3B,1,Gus,Po,gus@palm.example,,,no\n";

    pub fn operator() -> Actor {
        Actor::operator("test")
    }

    /// Imports `ROSTER` into `org`.
    pub async fn import_roster(cista: &Cista, org: OrgId) {
        let plan = cista
            .plan_import(&operator(), org, ROSTER.as_bytes())
            .await
            .unwrap();
        cista
            .apply_import(
                &operator(),
                org,
                ROSTER.as_bytes(),
                &plan.fingerprint,
                &|_, _| {},
            )
            .await
            .unwrap();
    }

    /// Gives an imported owner the test password (through a fresh invitation link).
    pub async fn activate(cista: &Cista, org: OrgId, email: &str) {
        let subject = cista
            .store()
            .members(org)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.subject);
        let mut done = false;
        for s in subject {
            if cista.resend_invitation(&operator(), org, s).await.is_err() {
                continue;
            }
            if let Some(Notice::Invitation { link, .. }) = last_notice(cista, email).await {
                let token = link.rsplit('/').next().unwrap();
                cista
                    .set_password_with_link(
                        token,
                        CredentialPurpose::Invite,
                        &Password::parse(PASSWORD).unwrap(),
                    )
                    .await
                    .unwrap();
                done = true;
                break;
            }
        }
        assert!(done, "{email} is an imported owner without a password");
    }

    /// A published ballot, open from a minute ago until `closes_in` from now: contest 1 is a
    /// two-thirds resolution, contest 2 elects two of Alma Diaz, Ben Ortiz and Carla Sosa.
    pub async fn open_ballot(
        cista: &Cista,
        org: OrgId,
        secrecy: Secrecy,
        closes_in: Duration,
    ) -> BallotId {
        let now = SystemClock.now();
        let id = cista
            .create_ballot(
                &operator(),
                org,
                BallotSettings {
                    title: "Annual meeting".to_owned(),
                    description: "Election and amendment".to_owned(),
                    opens_at: now.plus(Duration::minutes(-1)),
                    closes_at: now.plus(closes_in),
                    secrecy,
                    weighting: Weighting::PerUnit,
                    quorum: Percent::parse("30").unwrap(),
                    min_turnout: None,
                    paper: true,
                    notify_sms: false,
                    reminder_hours: Vec::new(),
                },
            )
            .await
            .unwrap();
        for contest in [
            NewContest {
                title: "Amend article 7".to_owned(),
                description: "Allow electronic notices.".to_owned(),
                kind: ContestKind::Resolution {
                    threshold: Threshold::TwoThirdsOfCast,
                },
            },
            NewContest {
                title: "Board of directors".to_owned(),
                description: String::new(),
                kind: ContestKind::Election {
                    seats: 2,
                    candidates: candidates_from_lines("Alma Diaz\nBen Ortiz\nCarla Sosa"),
                    shuffle: true,
                },
            },
        ] {
            cista
                .add_contest(&operator(), org, id, contest)
                .await
                .unwrap();
        }
        cista.publish_ballot(&operator(), org, id).await.unwrap();
        id
    }
}
