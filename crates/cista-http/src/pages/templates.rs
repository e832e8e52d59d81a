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
    pub request_id: &'a str,
}

/// One fact shown on the landing and trust pages.
#[derive(Debug, Clone)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
    pub ok: bool,
}
