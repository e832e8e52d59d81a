//! Askama templates: compile-time checked and HTML-escaped by default. Pages carry no inline
//! script or style; a page that needs a script must use the response's `CspNonce`.

use askama::Template;

#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub chrome: super::chrome::Chrome,
    pub status: u16,
    pub code: &'a str,
    pub message: &'a str,
    /// A sentence on what happened, where the code has a common, harmless cause.
    pub explanation: Option<&'static str>,
    /// The next steps: links a person can follow from here.
    pub next_steps: Vec<(String, &'static str)>,
    pub request_id: &'a str,
}

/// What a person can do after a refusal they can meet in normal use: a sentence and the links
/// that lead on. `path` is the page that was asked for; `sms_session` says the visitor signed in
/// with an SMS code (which lets them vote and nothing else).
pub fn next_steps(
    code: &str,
    path: &str,
    signed_in: bool,
    sms_session: bool,
) -> (Option<&'static str>, Vec<(String, &'static str)>) {
    let to = |href: &str, text: &'static str| (href.to_owned(), text);
    match code {
        "forbidden" | "second_factor_required" if sms_session => (
            Some(
                "You signed in with a code by SMS. That lets you vote and nothing else. To manage \
                 the association, sign in with your password and your authenticator.",
            ),
            vec![
                (
                    super::chrome::with_next("/sign-in", path),
                    "Sign in with your password",
                ),
                to("/vote", "Go to your ballots"),
            ],
        ),
        "unauthenticated" => (
            Some("This page is for people who are signed in."),
            vec![(super::chrome::with_next("/sign-in", path), "Sign in")],
        ),
        "second_factor_required" => (
            Some("Finish signing in with the code from your authenticator app."),
            vec![(super::chrome::with_next("/mfa", path), "Enter your code")],
        ),
        "already_voted" | "ballot_not_open" | "not_eligible" | "consent_required"
        | "ballot_changed" | "results_sealed" => (None, vec![to("/vote", "Go to your ballots")]),
        "csrf_rejected" => (
            Some(
                "The form was out of date (you signed in or out since it was opened) or came \
                 from another site. Nothing was changed.",
            ),
            vec![to("/", "Go to the start page")],
        ),
        "submission_in_progress" => (None, vec![to(path, "Reload")]),
        "submission_outcome_unknown" => (None, vec![to("/", "Go to the start page")]),
        "not_found" if signed_in => (
            Some("Check the address, or start again from your account."),
            vec![to("/me", "Your account"), to("/vote", "Your ballots")],
        ),
        "forbidden" => (
            Some("Your role in this organization does not include this page."),
            vec![to("/me", "Your account")],
        ),
        _ => (None, vec![to("/", "Go to the start page")]),
    }
}

/// One fact shown on the landing and trust pages.
#[derive(Debug, Clone)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
    pub ok: bool,
}
