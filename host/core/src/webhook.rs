//! Webhooks: the pure parts of delivery — signing secrets and signatures
//! (Standard Webhooks), endpoint URL rules, event-type filters and the retry
//! schedule. The delivery worker (`rollcall-sync`) and the store build on
//! these; nothing here does IO.

pub mod endpoint;
pub mod retry;
pub mod signature;

pub use endpoint::{EndpointUrlError, MAX_EVENT_TYPES, MAX_URL_LEN, check_url, wants};
pub use retry::{RetrySchedule, RetryScheduleError};
pub use signature::{SigningSecret, SigningSecretError, sign, signature_header};
