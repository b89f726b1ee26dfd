//! Native builds without the `testing` feature: there is no host.

use crate::PluginError;
use crate::host::{HostFailure, Level};
use crate::http::{Request, Response};

const NO_HOST: &str = "Rollcall host imports are only available inside Rollcall (build for wasm32-wasip2), or in native tests with the SDK's `testing` feature";

pub(crate) fn log(_level: Level, _message: &str) {}

pub(crate) fn config_all() -> String {
    "{}".into()
}

pub(crate) fn config_get(_key: &str) -> Option<String> {
    None
}

pub(crate) fn secret(_name: &str) -> Result<Option<String>, HostFailure> {
    Err(HostFailure::Unavailable(NO_HOST.into()))
}

pub(crate) fn state_get(_key: &str) -> Result<Option<String>, HostFailure> {
    Err(HostFailure::Unavailable(NO_HOST.into()))
}

pub(crate) fn state_set(_key: &str, _value: &str) -> Result<(), HostFailure> {
    Err(HostFailure::Unavailable(NO_HOST.into()))
}

pub(crate) fn state_delete(_key: &str) -> Result<(), HostFailure> {
    Err(HostFailure::Unavailable(NO_HOST.into()))
}

pub(crate) fn state_list(_prefix: &str, _limit: u32) -> Result<Vec<String>, HostFailure> {
    Err(HostFailure::Unavailable(NO_HOST.into()))
}

pub(crate) fn http_send(_request: &Request) -> Result<Response, PluginError> {
    Err(PluginError::permanent(NO_HOST))
}

pub(crate) fn ldap_search(
    _connection: &crate::ldap::Connection,
    _request: &crate::ldap::SearchRequest,
) -> Result<crate::ldap::SearchPage, HostFailure> {
    Err(HostFailure::Unavailable(NO_HOST.into()))
}
