//! SCIM schemas (RFC 7643 §2, §4, §7): attribute definitions and characteristics.
