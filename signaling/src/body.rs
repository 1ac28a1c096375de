//! A request body from bytes to its type (docs/PROTOCOL.md §1): one pass, no
//! intermediate tree, and the failing field named only when it fails.

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Parses a JSON body into `T` in one pass (no intermediate tree), naming the failing
/// field: `invalid_json` for bytes that are not one JSON object, else `missing_field`
/// or `invalid_field` with the field's path.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let invalid_json = |e: serde_json::Error| {
        let msg = e.to_string();
        Error::InvalidJson(msg.split(" at line ").next().unwrap_or(&msg).to_owned())
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Not an object (a derived struct would also accept an array): but first, a
        // syntax error is reported as one.
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return Err(invalid_json(e));
        }
        return Err(Error::InvalidJson("the body must be a JSON object".into()));
    }
    // The fast path: no path tracking, and the body's UTF-8 checked once as a whole
    // (serde_json checks each string of a byte slice on its own, at several times the
    // cost). Only a body that fails is read again, with the path, to name the field.
    let text = std::str::from_utf8(bytes).ok();
    if let Some(Ok(parsed)) = text.map(serde_json::from_str::<T>) {
        return Ok(parsed);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if !inner.is_data() {
            return invalid_json(inner);
        }
        // A syntax error anywhere in the body wins over a field's error, as if the
        // whole body had been read first (only on this error path).
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return invalid_json(syntax);
        }
        let msg = inner.to_string();
        if let Some(rest) = msg.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or_default();
            let full = if path == "." {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            };
            Error::MissingField(full)
        } else {
            Error::InvalidField {
                field: path,
                reason: msg,
            }
        }
    })?;
    de.end().map_err(invalid_json)?;
    Ok(parsed)
}
