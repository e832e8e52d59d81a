//! The embed surface: pages and calls made from a widget that an organization puts on its
//! own web site (the embedded assessment, issue 12). It has no routes yet; this module is
//! where they go, in a stack of their own, unlike every other surface's:
//!
//! - no cookies, read or set: a widget runs inside someone else's page, where a cookie would
//!   be third-party and ambient credentials would invite cross-site request forgery;
//! - each form's origin allow-list drives `frame-ancestors` (the CSP that `middleware` sends
//!   everywhere else says `'none'`), the CORS answer (`Access-Control-Allow-Origin` is the
//!   calling origin only when listed, never `*`), and the Origin check of every submission;
//! - the submission pipeline's own idempotency keys instead of session-bound CSRF tokens.
//!
//! `crate::app` will nest it under its own path prefix, as it does `api`.
