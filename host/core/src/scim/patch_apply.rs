//! Applying PATCH operations to a resource document (RFC 7644 §3.5.2.1–3).
//!
//! Each operation reads the targeted top-level attribute, computes its new
//! value without touching the document, checks mutability and required-ness,
//! then writes it back under the schema's spelling. A [`Session`] remembers
//! which extensions were touched so `schemas` can follow at the end.

use serde_json::Value;

use super::error::ScimError;
use super::patch::{PatchOp, PatchOperation, PatchOptions};
use super::patch_target::{Item, Resolved, Target, expand, resolve};
use super::patch_values::{
    Object, append_unique, assigned, coerce_multi, coerce_one, coerce_sub, element_from_filter,
    elements, get_ci, into_object, listed, matching, merge_subs, one_primary, set_ci, set_sub,
};
use super::path::PatchPath;
use super::schema::{AttrType, AttributeDef, Mutability, ResourceSchema, Schema};

/// State of one PATCH request being applied.
pub(crate) struct Session<'s> {
    schema: &'s ResourceSchema,
    options: &'s PatchOptions,
    /// Extension URNs whose objects the request touched.
    touched: Vec<&'s str>,
}

impl<'s> Session<'s> {
    /// A session for one request.
    pub fn new(schema: &'s ResourceSchema, options: &'s PatchOptions) -> Self {
        Session {
            schema,
            options,
            touched: Vec::new(),
        }
    }

    /// Applies one operation to `doc`.
    pub fn apply(&mut self, doc: &mut Object, op: &PatchOperation) -> Result<(), ScimError> {
        match &op.path {
            None if op.op == PatchOp::Remove => Err(ScimError::no_target(
                "\"remove\" needs a \"path\" naming what to remove",
            )),
            None => self.apply_value(doc, op.op, op.value.as_ref(), None),
            Some(path) => self.apply_path(doc, op, path),
        }
    }

    /// Lists touched extensions in `schemas` while they hold attributes, and
    /// drops them (object and URN) once empty.
    pub fn finish(&self, doc: &mut Object) {
        for &urn in &self.touched {
            let present = get_ci(doc, urn)
                .and_then(Value::as_object)
                .is_some_and(|o| !o.is_empty());
            if !present {
                set_ci(doc, urn, None);
            }
            sync_schemas(doc, &self.schema.core.id, urn, present);
        }
    }

    fn apply_path(
        &mut self,
        doc: &mut Object,
        op: &PatchOperation,
        path: &PatchPath,
    ) -> Result<(), ScimError> {
        let resolved = resolve(self.schema, path)?
            .ok_or_else(|| ScimError::invalid_path(format!("unknown attribute path '{path}'")))?;
        let value = op.value.as_ref();
        match resolved {
            Resolved::Attr(target) if target.is_read_only() => Err(ScimError::mutability(format!(
                "'{}' is read-only",
                target.describe()
            ))),
            Resolved::Attr(target) => self.apply_target(doc, op.op, &target, value),
            Resolved::Core if op.op == PatchOp::Remove => {
                Err(ScimError::invalid_path("the core schema cannot be removed"))
            }
            Resolved::Core => self.apply_value(doc, op.op, value, None),
            Resolved::Extension(ext) if clears(op.op, value) => {
                self.clear_extension(doc, ext);
                Ok(())
            }
            Resolved::Extension(_)
                if op.op == PatchOp::Add && value.is_some_and(Value::is_null) =>
            {
                Ok(())
            }
            Resolved::Extension(ext) => self.apply_value(doc, op.op, value, Some(ext)),
        }
    }

    /// A path-less value (or the value of a whole-schema path), key by key.
    fn apply_value(
        &mut self,
        doc: &mut Object,
        op: PatchOp,
        value: Option<&Value>,
        scope: Option<&'s Schema>,
    ) -> Result<(), ScimError> {
        let value = value.ok_or_else(|| missing_value(op))?;
        let ignore = self.options.ignore_unknown_attributes;
        for item in expand(self.schema, value, scope, ignore)? {
            match item {
                Item::Attr(target, v) => self.apply_target(doc, op, &target, Some(&v))?,
                Item::ClearExtension(ext) if op == PatchOp::Replace => {
                    self.clear_extension(doc, ext);
                }
                Item::ClearExtension(_) => {}
            }
        }
        Ok(())
    }

    fn apply_target(
        &mut self,
        doc: &mut Object,
        op: PatchOp,
        target: &Target<'s>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let old = read(doc, target);
        let new = match (op, value) {
            (PatchOp::Add, Some(v)) if v.is_null() => return Ok(()),
            (PatchOp::Add, Some(v)) => self.add(old.clone(), target, v)?,
            (PatchOp::Replace, Some(v)) if !v.is_null() => self.replace(old.clone(), target, v)?,
            (PatchOp::Add | PatchOp::Replace, None) => return Err(missing_value(op)),
            (PatchOp::Remove, Some(v)) if removes_listed(target, v) => {
                let given = elements(Some(v.clone()));
                let mut items = elements(old.clone());
                items.retain(|e| !listed(e, &given));
                assigned(Value::Array(items))
            }
            _ => self.remove(old.clone(), target)?,
        };
        check_rules(target, old.as_ref(), new.as_ref())?;
        if let Some(ext) = target.ext
            && !self.touched.contains(&ext)
        {
            self.touched.push(ext);
        }
        if new != old {
            write(doc, target, new);
        }
        Ok(())
    }

    fn add(
        &self,
        old: Option<Value>,
        t: &Target<'_>,
        v: &Value,
    ) -> Result<Option<Value>, ScimError> {
        match (&t.filter, t.sub) {
            (Some(_), _) => self.set_filtered(old, t, v, true),
            (None, Some(_)) => set_sub_everywhere(old, t, v),
            (None, None) if t.attr.multi_valued => {
                let mut items = elements(old);
                let written = append_unique(&mut items, coerce_multi(t.attr, v)?);
                one_primary(t.attr, &mut items, &written)?;
                Ok(assigned(Value::Array(items)))
            }
            (None, None) => set_whole(old, t, v),
        }
    }

    fn replace(
        &self,
        old: Option<Value>,
        t: &Target<'_>,
        v: &Value,
    ) -> Result<Option<Value>, ScimError> {
        match (&t.filter, t.sub) {
            (Some(_), _) => self.set_filtered(old, t, v, self.options.create_on_unmatched_filter),
            (None, Some(_)) => set_sub_everywhere(old, t, v),
            (None, None) if t.attr.multi_valued => {
                Ok(assigned(Value::Array(coerce_multi(t.attr, v)?)))
            }
            (None, None) => set_whole(old, t, v),
        }
    }

    /// Sets the elements a value filter selects (or their sub-attribute);
    /// with `create`, an `eq`-only filter that selects nothing creates one.
    fn set_filtered(
        &self,
        old: Option<Value>,
        t: &Target<'_>,
        v: &Value,
        create: bool,
    ) -> Result<Option<Value>, ScimError> {
        let mut items = elements(old);
        let mut hits = matching(&items, t, self.schema);
        let mut created = false;
        if hits.is_empty() {
            let base = t.filter.as_ref().filter(|_| create);
            let base = base
                .and_then(|f| element_from_filter(t.attr, f))
                .ok_or_else(|| {
                    ScimError::no_target(format!("no value matches '{}'", t.describe()))
                })?;
            items.push(Value::Object(base));
            hits.push(items.len() - 1);
            created = true;
        }
        let value = match t.sub {
            Some(sub) => coerce_sub(t.attr, sub, v)?,
            None => coerce_one(t.attr, v)?,
        };
        for &i in &hits {
            let current = std::mem::take(&mut items[i]);
            items[i] = match t.sub {
                Some(sub) => with_sub(current, sub, value.clone())?,
                None if created => merged(t, current, value.clone())?,
                None => value.clone(),
            };
        }
        one_primary(t.attr, &mut items, &hits)?;
        Ok(assigned(Value::Array(items)))
    }

    fn remove(&self, old: Option<Value>, t: &Target<'_>) -> Result<Option<Value>, ScimError> {
        let Some(sub) = t.sub else {
            if t.filter.is_none() {
                return Ok(None);
            }
            let items = elements(old);
            let hits = matching(&items, t, self.schema);
            let kept = items.into_iter().enumerate();
            let kept = kept.filter(|(i, _)| !hits.contains(i)).map(|(_, v)| v);
            return Ok(assigned(Value::Array(kept.collect())));
        };
        if !t.attr.multi_valued {
            return Ok(assigned(with_sub(
                old.unwrap_or(Value::Null),
                sub,
                Value::Null,
            )?));
        }
        let mut items = elements(old);
        for i in matching(&items, t, self.schema) {
            let current = std::mem::take(&mut items[i]);
            items[i] = with_sub(current, sub, Value::Null)?;
        }
        items.retain(|e| assigned(e.clone()).is_some());
        Ok(assigned(Value::Array(items)))
    }

    fn clear_extension(&mut self, doc: &mut Object, ext: &'s Schema) {
        set_ci(doc, &ext.id, None);
        if !self.touched.contains(&ext.id.as_str()) {
            self.touched.push(&ext.id);
        }
    }
}

/// `remove` with a `value` on a whole multi-valued attribute removes the
/// listed elements (Entra ID and OneLogin remove group members this way).
fn removes_listed(t: &Target<'_>, v: &Value) -> bool {
    t.attr.multi_valued && t.filter.is_none() && t.sub.is_none() && !v.is_null()
}

/// Whether an operation on a whole extension unassigns it.
fn clears(op: PatchOp, value: Option<&Value>) -> bool {
    op == PatchOp::Remove || (op == PatchOp::Replace && value.is_some_and(Value::is_null))
}

fn missing_value(op: PatchOp) -> ScimError {
    ScimError::invalid_syntax(format!("\"{}\" needs a \"value\"", op.as_str()))
}

/// Single-valued attribute without sub-attribute: complex values merge the
/// given sub-attributes (RFC 7644 §3.5.2.3), simple values are set.
fn set_whole(old: Option<Value>, t: &Target<'_>, v: &Value) -> Result<Option<Value>, ScimError> {
    let value = coerce_one(t.attr, v)?;
    if t.attr.attr_type != AttrType::Complex {
        return Ok(assigned(value));
    }
    Ok(assigned(merged(t, old.unwrap_or(Value::Null), value)?))
}

/// `current` with the sub-attributes of `value` merged in.
fn merged(t: &Target<'_>, current: Value, value: Value) -> Result<Value, ScimError> {
    let mut obj = into_object(current);
    merge_subs(t.attr, &mut obj, into_object(value))?;
    Ok(Value::Object(obj))
}

/// `current` with one sub-attribute set (`null` removes it).
fn with_sub(current: Value, sub: &AttributeDef, value: Value) -> Result<Value, ScimError> {
    let mut obj = into_object(current);
    set_sub(&mut obj, sub, value)?;
    Ok(Value::Object(obj))
}

/// A sub-attribute path without a filter: the sub-attribute of a complex
/// attribute, or of every element of a multi-valued one (creating one
/// element when there is none).
fn set_sub_everywhere(
    old: Option<Value>,
    t: &Target<'_>,
    v: &Value,
) -> Result<Option<Value>, ScimError> {
    let Some(sub) = t.sub else {
        return Ok(old);
    };
    let value = coerce_sub(t.attr, sub, v)?;
    if !t.attr.multi_valued {
        return Ok(assigned(with_sub(old.unwrap_or(Value::Null), sub, value)?));
    }
    let mut items = elements(old);
    if items.is_empty() {
        items.push(Value::Object(Object::new()));
    }
    for item in &mut items {
        *item = with_sub(std::mem::take(item), sub, value.clone())?;
    }
    let all: Vec<usize> = (0..items.len()).collect();
    one_primary(t.attr, &mut items, &all)?;
    Ok(assigned(Value::Array(items)))
}

/// Required attributes stay; immutable ones, once set, do not change.
fn check_rules(t: &Target<'_>, old: Option<&Value>, new: Option<&Value>) -> Result<(), ScimError> {
    if t.attr.required && new.is_none() {
        return Err(ScimError::mutability(format!(
            "{} is required and cannot be removed",
            t.attr.name
        )));
    }
    if t.attr.mutability == Mutability::Immutable && old.is_some() && old != new {
        return Err(ScimError::mutability(format!(
            "{} is immutable and already set",
            t.attr.name
        )));
    }
    Ok(())
}

/// The attribute's current value; unassigned values read as `None`.
fn read(doc: &Object, t: &Target<'_>) -> Option<Value> {
    let container = match t.ext {
        Some(urn) => get_ci(doc, urn)?.as_object()?,
        None => doc,
    };
    get_ci(container, &t.attr.name).cloned().and_then(assigned)
}

/// Writes the attribute under its canonical name (and extension URN);
/// an extension object left empty is removed.
fn write(doc: &mut Object, t: &Target<'_>, value: Option<Value>) {
    let Some(urn) = t.ext else {
        set_ci(doc, &t.attr.name, value);
        return;
    };
    let mut ext = get_ci(doc, urn)
        .cloned()
        .map(into_object)
        .unwrap_or_default();
    set_ci(&mut ext, &t.attr.name, value);
    set_ci(doc, urn, assigned(Value::Object(ext)));
}

/// Adds `urn` to (or removes it from) the resource's `schemas` list.
fn sync_schemas(doc: &mut Object, core: &str, urn: &str, listed: bool) {
    let is_urn = |v: &Value| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn));
    if !listed {
        if let Some(Value::Array(list)) = doc.get_mut("schemas") {
            list.retain(|v| !is_urn(v));
        }
        return;
    }
    let schemas = doc
        .entry("schemas")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !schemas.is_array() {
        *schemas = Value::Array(Vec::new());
    }
    let Value::Array(list) = schemas else {
        return;
    };
    if !list.iter().any(is_urn) {
        if list.is_empty() {
            list.push(Value::String(core.to_owned()));
        }
        list.push(Value::String(urn.to_owned()));
    }
}
