//! `event-template`: the small language lifecycle plugins use to pull
//! values out of an event. A [`FieldPath`] such as `data.email` or
//! `data.custom_attributes.employee_number` names one value of the event's
//! [`context`]; a [`Template`] is text with `{{path}}` placeholders, e.g.
//! `https://app.example.com/api/users/{{data.email}}/sessions`.
//!
//! Rendering never panics: a placeholder whose value is absent or `null`
//! is a [`RenderError::Missing`] naming the path, and one whose value is an
//! object or a list is [`RenderError::NotText`]; each plugin decides what
//! those mean for its event (fail or skip).

mod context;
mod path;
mod template;

pub use context::context;
pub use path::FieldPath;
pub use template::{Escape, RenderError, Template, TemplateError};
