//! What a webhook endpoint may be: its URL and its event-type filter.
//!
//! Address checks after DNS (loopback, private, metadata ranges) happen at
//! send time in the delivery worker; here only the shape of the URL is
//! checked, so that a bad endpoint is refused when it is created.

use thiserror::Error;

use crate::event::EventType;

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Most event types one endpoint may filter on (there are fewer types).
pub const MAX_EVENT_TYPES: usize = 32;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EndpointUrlError {
    #[error("url must be at most {MAX_URL_LEN} characters")]
    TooLong,
    #[error("url is not a valid absolute URL: {0}")]
    Invalid(String),
    #[error("url must use https (plain http needs ROLLCALL_WEBHOOK_ALLOW_HTTP=true)")]
    NotHttps,
    #[error("url scheme must be https or http")]
    Scheme,
    #[error("url must not contain credentials (user:password@)")]
    Credentials,
    #[error("url must not contain a fragment")]
    Fragment,
}

/// Checks an endpoint URL; answers it normalized.
pub fn check_url(text: &str, allow_http: bool) -> Result<String, EndpointUrlError> {
    if text.len() > MAX_URL_LEN {
        return Err(EndpointUrlError::TooLong);
    }
    let url = url::Url::parse(text.trim()).map_err(|e| EndpointUrlError::Invalid(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(EndpointUrlError::NotHttps),
        _ => return Err(EndpointUrlError::Scheme),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(EndpointUrlError::Invalid("no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointUrlError::Credentials);
    }
    if url.fragment().is_some() {
        return Err(EndpointUrlError::Fragment);
    }
    Ok(url.to_string())
}

/// Whether an endpoint filtering on `types` (empty = every type) wants `event`.
pub fn wants(types: &[EventType], event: EventType) -> bool {
    types.is_empty() || types.contains(&event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            check_url("https://app.example.com/hooks?x=1", false).unwrap(),
            "https://app.example.com/hooks?x=1"
        );
        assert_eq!(
            check_url("http://localhost:3000/h", false),
            Err(EndpointUrlError::NotHttps)
        );
        assert!(check_url("http://localhost:3000/h", true).is_ok());
        assert_eq!(check_url("ftp://x/", true), Err(EndpointUrlError::Scheme));
        assert_eq!(
            check_url("https://u:p@x.example/", true),
            Err(EndpointUrlError::Credentials)
        );
        assert_eq!(
            check_url("https://x.example/#f", true),
            Err(EndpointUrlError::Fragment)
        );
        assert!(matches!(
            check_url("not a url", true),
            Err(EndpointUrlError::Invalid(_))
        ));
        let long = format!("https://x.example/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long, true), Err(EndpointUrlError::TooLong));
    }

    #[test]
    fn empty_filter_wants_everything() {
        assert!(wants(&[], EventType::UserCreated));
        assert!(wants(&[EventType::UserCreated], EventType::UserCreated));
        assert!(!wants(&[EventType::UserDeleted], EventType::UserCreated));
    }
}
