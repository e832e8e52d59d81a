//! Field data collection (seed `002`, issue 13): record forms that collectors fill on their
//! phones. The record form's definition and its checks (`definition`), which the platform's
//! form pipeline applies when a record form is published; a record's answers checked against
//! its form (`record`), which the pipeline applies to every record and photo it receives;
//! collectors' phones and their device tokens (`devices`); the forms they may fill (`forms`);
//! reviews of records (`review`); the review portal's filter (`records`, `area`) and
//! exports (`export`, `zip`); partner systems told of records and reviews by signed webhooks
//! (`webhooks`, sent by `webhook_delivery`).

pub mod actions;
pub mod area;
pub mod audit;
pub mod definition;
pub mod delivery;
pub mod devices;
pub mod export;
pub mod forms;
pub mod media;
pub mod record;
pub mod records;
pub mod review;
pub mod webhook_delivery;
pub mod webhooks;
pub mod zip;

pub use actions::CollectionAction;
pub use definition::{Choice, Field, FieldKind, RecordForm};
pub use devices::{Device, DeviceId, DeviceRequest, DeviceState};
pub use forms::RecordFormVersion;
pub use record::PhotoSlot;
pub use review::{RecordStatus, Review, ReviewState};
