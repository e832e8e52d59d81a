//! People and access in Chromium against the demo: an invitation, a password reset, an SMS
//! sign-in, the owner's second factor and recovery codes, inviting a person (someone new, and
//! someone another organization knows, who joins on accepting), and the forms on a phone.

use crate::{Browser, MEMBER, OWNER, PASSWORD};
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_and_access_flows_work_in_chromium() {
    let Some(b) = Browser::start().await else {
        return;
    };

    // 1. Invitation -> set password -> sign in -> sign out (the member).
    the_member_sets_a_password_from_the_invitation_and_signs_in(&b).await;
    // 2. Forgotten password -> reset link -> new password -> sign in.
    a_forgotten_password_is_reset_by_email(&b).await;
    // 3. SMS sign-in: a voting-only session.
    an_sms_code_signs_in_for_voting_only(&b).await;
    // 4. The owner: set password, enrol an authenticator, manage people, sign in again.
    the_owner_enrols_an_authenticator_and_invites_an_inspector(&b).await;
    // Phone-sized screens: the forms fit.
    the_forms_fit_a_phone(&b).await;
    // 5. Someone known elsewhere joins by choosing a password on the invitation's page.
    someone_known_elsewhere_joins_by_choosing_a_password(&b).await;

    let problems = b.problems().await;
    assert!(
        problems.is_empty(),
        "the browser reported problems: {problems:#?}"
    );
    b.driver.clone().quit().await.unwrap();
}

/// 1. Invitation -> set password -> sign in -> sign out (the member).
async fn the_member_sets_a_password_from_the_invitation_and_signs_in(b: &Browser) {
    // The link the demo printed, as a person following the README would use it.
    b.driver.goto(b.printed_link(MEMBER)).await.unwrap();
    assert!(b.main_text().await.contains("Hello Manuel"));
    b.fill("password", "password1").await;
    b.fill("confirm", "password1").await;
    b.submit().await;
    let text = b.main_text().await;
    assert!(
        text.contains("too easy to guess"),
        "the weak password is explained: {text}"
    );
    b.shot("set-password-weak.png").await;
    b.fill("password", PASSWORD).await;
    b.fill("confirm", PASSWORD).await;
    b.submit().await;
    // Choosing the password signs the browser in (the link proved the address).
    assert_eq!(b.path().await, "/me");
    assert!(b.main_text().await.contains("Hello Manuel"));
    b.sign_out().await;
    assert!(b.main_text().await.contains("signed out"));
    b.shot("sign-in.png").await;
    b.fill("email", MEMBER).await;
    b.fill("password", PASSWORD).await;
    b.submit().await;
    assert_eq!(b.path().await, "/me");
    assert!(b.main_text().await.contains("Hello Manuel"));
    b.shot("me-member.png").await;
    b.sign_out().await;
    assert!(b.main_text().await.contains("signed out"));
}

/// 2. Forgotten password -> reset link -> new password -> sign in.
async fn a_forgotten_password_is_reset_by_email(b: &Browser) {
    b.go("/reset").await;
    b.fill("email", MEMBER).await;
    b.submit().await;
    assert!(b.main_text().await.contains("Check your email"));
    let (link, _) = b.outbox(MEMBER, "Choose a new Cista password").await;
    b.driver.goto(link.unwrap()).await.unwrap();
    b.fill("password", NEW_PASSWORD).await;
    b.fill("confirm", NEW_PASSWORD).await;
    b.submit().await;
    assert_eq!(b.path().await, "/me", "a new password signs the browser in");
    b.sign_out().await;
    b.sign_in(MEMBER, PASSWORD).await;
    assert!(
        b.main_text().await.contains("not right"),
        "the old password no longer works"
    );
    b.sign_in(MEMBER, NEW_PASSWORD).await;
    assert_eq!(b.path().await, "/me");
    b.sign_out().await;
}

/// 3. SMS sign-in: a voting-only session.
async fn an_sms_code_signs_in_for_voting_only(b: &Browser) {
    b.go("/sms").await;
    b.fill("identifier", "+1 305 555 0142").await;
    b.submit().await;
    assert!(b.main_text().await.contains("Enter your code"));
    b.shot("sms-code.png").await;
    let (_, body) = b.outbox_body("+13055550142", "SMS", "sign-in code").await;
    let code: String = body.chars().filter(char::is_ascii_digit).take(6).collect();
    b.go("/sms/verify").await;
    b.fill("code", "000000").await;
    b.submit().await;
    assert!(
        b.main_text().await.contains("not right"),
        "a wrong code is explained"
    );
    b.fill("code", &code).await;
    b.submit().await;
    assert_eq!(b.path().await, "/me");
    assert!(
        b.main_text()
            .await
            .contains("signed in with a code sent by SMS")
    );
    b.shot("me-sms.png").await;
    b.sign_out().await;
}

/// 4. The owner: set password, enrol an authenticator, manage people, sign in again.
async fn the_owner_enrols_an_authenticator_and_invites_an_inspector(b: &Browser) {
    b.driver.goto(b.printed_link(OWNER)).await.unwrap();
    b.fill("password", PASSWORD).await;
    b.fill("confirm", PASSWORD).await;
    b.submit().await;
    b.sign_in(OWNER, PASSWORD).await;
    assert_eq!(
        b.path().await,
        "/mfa/enrol",
        "owners must enrol a second factor"
    );
    let qr = b.driver.find(By::Css("figure.qr img")).await.unwrap();
    assert!(
        qr.attr("src")
            .await
            .unwrap()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    b.shot("mfa-enrol.png").await;
    b.confirm_authenticator().await;
    let codes: Vec<String> = {
        let mut codes = Vec::new();
        for li in b.driver.find_all(By::Css("ol.recovery li")).await.unwrap() {
            codes.push(li.text().await.unwrap());
        }
        codes
    };
    assert_eq!(codes.len(), 10);
    b.shot("recovery-codes.png").await;
    b.go("/me").await;
    assert!(b.main_text().await.contains("Authenticator app: on"));
    b.go("/admin/palm-court/people").await;
    let people = b.main_text().await;
    assert!(
        people.contains("Olivia Ortiz") && people.contains("Manuel Moreno"),
        "{people}"
    );
    b.shot("people.png").await;
    b.go("/admin/palm-court/invite").await;
    b.fill("first_name", "Ines").await;
    b.fill("last_name", "Inspector").await;
    b.fill("email", "ines@palm-court.example").await;
    b.driver
        .find(By::Css("#role option[value=inspector]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.shot("invite.png").await;
    b.submit().await;
    assert!(
        b.path()
            .await
            .starts_with("/admin/palm-court/people?done=invited")
    );
    assert!(b.main_text().await.contains("Ines Inspector"));
    b.outbox("ines@palm-court.example", "You are invited").await;
    the_owner_invites_someone_known_elsewhere(b).await;
    b.sign_out().await;
    b.sign_in(OWNER, PASSWORD).await;
    assert_eq!(b.path().await, "/mfa");
    b.shot("mfa-challenge.png").await;
    b.fill("code", &codes[0]).await;
    b.submit().await;
    assert_eq!(b.path().await, "/me", "a recovery code works once");
}

/// The member's password after the reset of step 2.
const NEW_PASSWORD: &str = "lantern-quarry-velvet-7";

/// A collector of River Watch, another demo organization.
const SAM: &str = "sam@river-watch.example";

/// The owner invites someone River Watch already knows: nothing of them is shown, only that an
/// invitation waits for an answer.
async fn the_owner_invites_someone_known_elsewhere(b: &Browser) {
    b.go("/admin/palm-court/invite").await;
    b.fill("first_name", "Samuel").await;
    b.fill("last_name", "Rivers").await;
    b.fill("email", SAM).await;
    b.driver
        .find(By::Css("#role option[value=member]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.submit().await;
    let text = b.main_text().await;
    assert!(
        text.contains("Invitations waiting for an answer")
            && text.contains("joins (and appears here) once they accept"),
        "{text}"
    );
    assert!(
        !text.contains("Samuel") && !text.contains("Rivera"),
        "{text}"
    );
    b.go("/admin/palm-court/people#pending").await;
    b.shot("people-pending.png").await;
}

/// Step 5: the invitation's page names the organization, the role and what its staff will
/// see; choosing a password joins, and the account page lists both organizations.
async fn someone_known_elsewhere_joins_by_choosing_a_password(b: &Browser) {
    let (link, _) = b.outbox(SAM, "invites you to join").await;
    let link = link.unwrap();
    // Opened first on a computer where the member is signed in: the page says whose link it
    // is before anyone uses it.
    b.sign_in(MEMBER, NEW_PASSWORD).await;
    b.driver.goto(&link).await.unwrap();
    let text = b.main_text().await;
    assert!(text.contains("This link is for Sam"), "{text}");
    b.shot("join-someone-elses-link.png").await;
    b.sign_out().await;
    b.driver.goto(&link).await.unwrap();
    let text = b.main_text().await;
    assert!(!text.contains("This link is for"), "{text}");
    assert!(
        text.contains("you are joining Palm Court Condominium Association as Member")
            && text.contains("staff then see the name and contact details"),
        "{text}"
    );
    b.shot("join-choose-password.png").await;
    b.fill("password", PASSWORD).await;
    b.fill("confirm", PASSWORD).await;
    b.submit().await;
    assert_eq!(b.path().await, "/me");
    let me = b.main_text().await;
    assert!(
        me.contains("Palm Court") && me.contains("River Watch"),
        "{me}"
    );
    b.shot("join-joined-me.png").await;
    b.sign_out().await;
}

/// Phone-sized screens: the forms fit.
async fn the_forms_fit_a_phone(b: &Browser) {
    b.driver.set_window_rect(0, 0, 390, 900).await.unwrap();
    for (path, name) in [
        ("/me", "me-phone.png"),
        ("/admin/palm-court/people", "people-phone.png"),
    ] {
        b.go(path).await;
        b.shot(name).await;
    }
    b.sign_out().await;
    b.go("/sign-in").await;
    let overflow = b
        .driver
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap()
        .json()
        .as_i64()
        .unwrap();
    assert!(
        overflow <= 0,
        "the sign-in page overflows a phone by {overflow}px"
    );
    b.shot("sign-in-phone.png").await;
}
