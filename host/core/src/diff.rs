//! `previous_attributes` for `*.updated` events.
//!
//! A shallow diff of two API objects: for every top-level key whose value
//! changed, the old value; keys that are new appear as `null`. The nested
//! maps `custom_attributes` and `raw_attributes` are diffed one level deeper
//! by the same rule, so a consumer sees *which* attribute changed rather than
//! the whole old map. Bookkeeping keys (`updated_at`, `groups`) never count
//! as changes.

use serde_json::{Map, Value};

const IGNORED: &[&str] = &["updated_at", "groups"];
const NESTED: &[&str] = &["custom_attributes", "raw_attributes"];

pub fn previous_attributes(old: &Value, new: &Value) -> Map<String, Value> {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return Map::new();
    };
    let mut out = Map::new();
    for (key, new_value) in new {
        if IGNORED.contains(&key.as_str()) {
            continue;
        }
        let old_value = old.get(key).unwrap_or(&Value::Null);
        if old_value == new_value && old.contains_key(key) {
            continue;
        }
        if NESTED.contains(&key.as_str())
            && let (Some(_), Some(_)) = (old_value.as_object(), new_value.as_object())
        {
            out.insert(key.clone(), Value::Object(flat_diff(old_value, new_value)));
            continue;
        }
        out.insert(key.clone(), old_value.clone());
    }
    // Keys that disappeared keep their old value, so the change is visible.
    for (key, old_value) in old {
        if !new.contains_key(key) && !IGNORED.contains(&key.as_str()) {
            out.insert(key.clone(), old_value.clone());
        }
    }
    out
}

fn flat_diff(old: &Value, new: &Value) -> Map<String, Value> {
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for (key, new_value) in new {
        match old.get(key) {
            Some(old_value) if old_value == new_value => {}
            Some(old_value) => {
                out.insert(key.clone(), old_value.clone());
            }
            None => {
                out.insert(key.clone(), Value::Null);
            }
        }
    }
    for (key, old_value) in old {
        if !new.contains_key(key) {
            out.insert(key.clone(), old_value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_changed_new_and_removed_keys() {
        let old = json!({"email":"a@x.com","first_name":"Ada","title":"Eng","updated_at":"t1"});
        let new = json!({"email":"b@x.com","first_name":"Ada","manager":"bob","updated_at":"t2"});
        let diff = previous_attributes(&old, &new);
        assert_eq!(
            Value::Object(diff),
            json!({"email":"a@x.com","manager":null,"title":"Eng"})
        );
    }

    #[test]
    fn nested_maps_are_diffed_one_level() {
        let old =
            json!({"custom_attributes":{"department":"R&D","cost_center":"1"},"state":"active"});
        let new = json!({"custom_attributes":{"department":"Sales","cost_center":"1","level":3},"state":"inactive"});
        assert_eq!(
            Value::Object(previous_attributes(&old, &new)),
            json!({"custom_attributes":{"department":"R&D","level":null},"state":"active"})
        );
    }

    #[test]
    fn null_to_value_counts_as_change() {
        let old = json!({"email":null});
        let new = json!({"email":"a@x.com"});
        assert_eq!(
            Value::Object(previous_attributes(&old, &new)),
            json!({"email":null})
        );
        assert!(previous_attributes(&new, &new).is_empty());
    }
}
