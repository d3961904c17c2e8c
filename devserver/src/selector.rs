//! Label selectors (the full `k8s.io/apimachinery/pkg/labels` grammar) and field selectors
//! (`metadata.name`, `metadata.namespace`, plus custom fields for CRDs with `selectableFields`).

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    /// `k=v`, `k==v`, `k in (a,b)`.
    In(String, Vec<String>),
    /// `k!=v`, `k notin (a,b)`: also matches objects without the key.
    NotIn(String, Vec<String>),
    /// `k`.
    Exists(String),
    /// `!k`.
    DoesNotExist(String),
    /// `k>N`.
    Gt(String, i64),
    /// `k<N`.
    Lt(String, i64),
}

/// A parsed label selector: every requirement must hold (a comma means AND).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(pub Vec<Requirement>);

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, tok: &str) -> bool {
        self.skip_ws();
        if self.s[self.i..].starts_with(tok.as_bytes()) {
            self.i += tok.len();
            true
        } else {
            false
        }
    }
    fn word(&mut self) -> String {
        self.skip_ws();
        let start = self.i;
        while self.i < self.s.len() {
            let c = self.s[self.i];
            if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/') {
                self.i += 1;
            } else {
                break;
            }
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let save = self.i;
        let w = self.word();
        if w == kw {
            true
        } else {
            self.i = save;
            false
        }
    }
}

fn valid_label_value(v: &str) -> bool {
    v.is_empty() || crate::validation::is_label_value(v)
}

impl LabelSelector {
    /// Parses a label selector; the error text becomes a 400 message.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut lx = Lexer { s: input.as_bytes(), i: 0 };
        let mut reqs = Vec::new();
        if lx.peek().is_none() {
            return Ok(LabelSelector(reqs));
        }
        loop {
            let negated = lx.eat("!");
            let key = lx.word();
            if key.is_empty() {
                return Err(format!(
                    "unable to parse requirement: found '{}', expected: identifier",
                    lx.s.get(lx.i).map(|c| *c as char).unwrap_or(' ')
                ));
            }
            if !crate::validation::is_qualified_name(&key) {
                return Err(format!(
                    "unable to parse requirement: <nil>: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
                ));
            }
            if negated {
                reqs.push(Requirement::DoesNotExist(key));
            } else if lx.eat("==") || lx.eat("=") {
                let v = lx.word();
                if !valid_label_value(&v) {
                    return Err(format!("invalid label value: \"{v}\""));
                }
                reqs.push(Requirement::In(key, vec![v]));
            } else if lx.eat("!=") {
                let v = lx.word();
                if !valid_label_value(&v) {
                    return Err(format!("invalid label value: \"{v}\""));
                }
                reqs.push(Requirement::NotIn(key, vec![v]));
            } else if lx.eat(">") || lx.eat("<") {
                let gt = lx.s[lx.i - 1] == b'>';
                let v = lx.word();
                let n: i64 = v.parse().map_err(|_| {
                    format!("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {v}")
                })?;
                reqs.push(if gt { Requirement::Gt(key, n) } else { Requirement::Lt(key, n) });
            } else if lx.keyword("in") {
                reqs.push(Requirement::In(key, parse_set(&mut lx)?));
            } else if lx.keyword("notin") {
                reqs.push(Requirement::NotIn(key, parse_set(&mut lx)?));
            } else {
                reqs.push(Requirement::Exists(key));
            }
            match lx.peek() {
                None => break,
                Some(b',') => {
                    lx.i += 1;
                }
                Some(c) => {
                    return Err(format!(
                        "unable to parse requirement: found '{}', expected: ',' or end of string",
                        c as char
                    ));
                }
            }
        }
        Ok(LabelSelector(reqs))
    }

    /// True when the labels of `obj` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
            Requirement::Gt(k, n) => get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n),
            Requirement::Lt(k, n) => get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
        })
    }
}

fn parse_set(lx: &mut Lexer<'_>) -> Result<Vec<String>, String> {
    if !lx.eat("(") {
        return Err("unable to parse requirement: found '', expected: '('".into());
    }
    let mut values = Vec::new();
    loop {
        let v = lx.word();
        if !valid_label_value(&v) {
            return Err(format!("invalid label value: \"{v}\""));
        }
        values.push(v);
        if lx.eat(",") {
            continue;
        }
        if lx.eat(")") {
            break;
        }
        return Err("unable to parse requirement: found '', expected: ',' or ')'".into());
    }
    Ok(values)
}

/// One `field=value` / `field!=value` term.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldTerm {
    /// The field path, e.g. `metadata.name`.
    pub field: String,
    /// The value compared with.
    pub value: String,
    /// True for `!=`.
    pub negated: bool,
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(pub Vec<FieldTerm>);

impl FieldSelector {
    /// Parses a field selector, allowing only the given field paths.
    pub fn parse(input: &str, allowed: &[String]) -> Result<Self, String> {
        let mut terms = Vec::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, value, negated) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(format!("invalid selector: '{part}'; can't understand '{part}'"));
            };
            let field = field.trim().to_string();
            if !allowed.contains(&field) {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push(FieldTerm { field, value: value.trim().to_string(), negated });
        }
        Ok(FieldSelector(terms))
    }

    /// True when every term holds for `obj`.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|t| {
            let ptr = format!("/{}", t.field.replace('.', "/"));
            let actual = match obj.pointer(&ptr) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == t.value) != t.negated
        })
    }
}

/// A `LabelSelector` as apimachinery prints it: requirements sorted by key, values sorted
/// (`a=b,e,t in (x,y)`).
pub fn format_label_selector(selector: &Value) -> String {
    let mut parts: Vec<(String, String)> = vec![];
    if let Some(m) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for e in selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("").to_string();
        let mut values: Vec<&str> =
            e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let text = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        parts.push((key, text));
    }
    parts.sort();
    parts.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"labels": labels}})
    }

    #[test]
    fn grammar() {
        let o = obj(json!({"app": "web", "tier": "front", "n": "5"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&o);
        assert!(m("app=web"));
        assert!(m("app==web,tier=front"));
        assert!(!m("app!=web"));
        assert!(m("missing!=x"));
        assert!(m("app in (web, api)"));
        assert!(!m("app notin (web)"));
        assert!(m("missing notin (web)"));
        assert!(m("app"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(m("n>4"));
        assert!(!m("n<5"));
        assert!(m(""));
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("a=b c").is_err());
        assert!(LabelSelector::parse("n>x").is_err());
    }

    #[test]
    fn fields() {
        let allowed = vec!["metadata.name".to_string()];
        let f = FieldSelector::parse("metadata.name=a", &allowed).unwrap();
        assert!(f.matches(&json!({"metadata": {"name": "a"}})));
        assert!(!f.matches(&json!({"metadata": {"name": "b"}})));
        assert_eq!(FieldSelector::parse("spec.x=1", &allowed).unwrap_err(), "field label not supported: spec.x");
    }
}
