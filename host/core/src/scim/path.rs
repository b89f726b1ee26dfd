//! SCIM attribute paths (RFC 7644 §3.10, §3.5.2): `name`, `name.sub`, `urn:…:name`, and value paths.
