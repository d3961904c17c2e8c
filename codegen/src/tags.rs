//! The tag grammar: `+name`, `+name=value` and `+name:key=value,key=value` lines in doc comments.
//!
//! Tags keep code-generator's and controller-gen's spelling so people coming from Go read them
//! unchanged. Unlike gengo, an unknown or misplaced tag is an error with a suggestion, never
//! silently ignored: the registry below is the complete list of what the generator understands.

use std::path::Path;
use std::sync::Arc;

use syn::spanned::Spanned;

use crate::diag::{Diagnostics, Loc};
use crate::naming;

/// Where a tag may stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// An inner doc comment (`//!`) of a group or version module.
    Package,
    /// The doc comment of a struct or enum.
    Type,
    /// The doc comment of a field.
    Field,
}

const PKG: u8 = 1;
const TYPE: u8 = 2;
const FIELD: u8 = 4;

/// How a tag takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    /// `+name` only.
    Flag,
    /// `+name=value` only.
    Value,
    /// `+name` or `+name=value`.
    FlagOrValue,
    /// `+name:key=value,key=value` (controller-gen's argument form).
    Args,
    /// An old spelling that code-generator rejects; the text says what to write instead.
    Obsolete(&'static str),
}

struct Def {
    name: &'static str,
    places: u8,
    style: Style,
}

const fn def(name: &'static str, places: u8, style: Style) -> Def {
    Def { name, places, style }
}

/// Validation markers that take a value, valid on fields and types, and (with `items:`) on the
/// elements of a list.
pub const VALIDATIONS: &[&str] = &[
    "Maximum",
    "Minimum",
    "ExclusiveMaximum",
    "ExclusiveMinimum",
    "MultipleOf",
    "MaxLength",
    "MinLength",
    "MaxItems",
    "MinItems",
    "MaxProperties",
    "MinProperties",
    "Pattern",
    "UniqueItems",
    "Enum",
    "Format",
    "Type",
];

/// Validation markers that are flags.
pub const VALIDATION_FLAGS: &[&str] = &["XPreserveUnknownFields", "XEmbeddedResource", "XIntOrString"];

const FIXED: &[Def] = &[
    def("genclient", TYPE, Style::Flag),
    def("genclient:nonNamespaced", TYPE, Style::Flag),
    def("genclient:noVerbs", TYPE, Style::Flag),
    def("genclient:noStatus", TYPE, Style::Flag),
    def("genclient:readonly", TYPE, Style::Flag),
    def("genclient:onlyVerbs", TYPE, Style::Value),
    def("genclient:skipVerbs", TYPE, Style::Value),
    def("genclient:method", TYPE, Style::Value),
    def("nonNamespaced", TYPE, Style::Obsolete("+genclient:nonNamespaced")),
    def("readonly", TYPE, Style::Obsolete("+genclient:readonly")),
    def("groupName", PKG, Style::Value),
    def("groupGoName", PKG, Style::Value),
    def("resourceName", TYPE, Style::Value),
    def("k8s:deepcopy-gen", PKG | TYPE, Style::Value),
    def("k8s:deepcopy-gen:interfaces", TYPE, Style::Value),
    def("k8s:deepcopy-gen:nonpointer-interfaces", TYPE, Style::Value),
    def("optional", FIELD, Style::Flag),
    def("required", FIELD, Style::Flag),
    def("k8s:optional", FIELD, Style::Flag),
    def("k8s:required", FIELD, Style::Flag),
    def("nullable", FIELD, Style::Flag),
    def("default", FIELD, Style::Value),
    def("listType", FIELD | TYPE, Style::Value),
    def("listMapKey", FIELD | TYPE, Style::Value),
    def("mapType", FIELD | TYPE, Style::Value),
    def("structType", FIELD | TYPE, Style::Value),
    def("kubebuilder:default", FIELD, Style::Value),
    def("kubebuilder:example", FIELD, Style::Value),
    def("kubebuilder:subresource:status", TYPE, Style::Flag),
    def("kubebuilder:subresource:scale", TYPE, Style::Args),
    def("kubebuilder:printcolumn", TYPE, Style::Args),
    def("kubebuilder:resource", TYPE, Style::Args),
    def("kubebuilder:storageversion", TYPE, Style::Flag),
    def("kubebuilder:object:root", TYPE, Style::FlagOrValue),
    def("kubebuilder:validation:Optional", PKG | FIELD, Style::Flag),
    def("kubebuilder:validation:Required", PKG | FIELD, Style::Flag),
    def("kubebuilder:validation:XValidation", FIELD | TYPE, Style::Args),
    def("kubebuilder:pruning:PreserveUnknownFields", FIELD | TYPE, Style::Flag),
];

/// Every tag name the generator understands, for suggestions.
fn all_names() -> Vec<String> {
    let mut names: Vec<String> = FIXED.iter().map(|d| d.name.to_string()).collect();
    for prefix in ["kubebuilder:validation:", "kubebuilder:validation:items:"] {
        for v in VALIDATIONS.iter().chain(VALIDATION_FLAGS) {
            names.push(format!("{prefix}{v}"));
        }
    }
    names
}

fn lookup(name: &str) -> Option<(u8, Style)> {
    if let Some(d) = FIXED.iter().find(|d| d.name == name) {
        return Some((d.places, d.style));
    }
    let rest =
        name.strip_prefix("kubebuilder:validation:items:").or_else(|| name.strip_prefix("kubebuilder:validation:"))?;
    if VALIDATIONS.contains(&rest) {
        Some((FIELD | TYPE, Style::Value))
    } else if VALIDATION_FLAGS.contains(&rest) {
        Some((FIELD | TYPE, Style::FlagOrValue))
    } else {
        None
    }
}

/// One `key=value` argument of an argument-style marker.
#[derive(Clone, Debug)]
pub struct Arg {
    /// The key as written.
    pub key: String,
    /// The value with quotes removed.
    pub value: String,
    /// Where the key starts.
    pub loc: Loc,
}

/// A parsed tag.
#[derive(Clone, Debug)]
pub struct Tag {
    /// The registered name, e.g. `genclient:onlyVerbs` or `kubebuilder:validation:Minimum`.
    pub name: String,
    /// The text after `=`, if any (quotes kept; see [`unquote`]).
    pub value: Option<String>,
    /// The `key=value` arguments of an argument-style marker.
    pub args: Vec<Arg>,
    /// Where the `+` is.
    pub loc: Loc,
    /// Where the value starts (the `+` when there is none).
    pub value_loc: Loc,
}

impl Tag {
    /// The value of argument `key`, if given.
    pub fn arg(&self, key: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.key == key)
    }
}

/// The doc comment of one item: its tags and its prose (tag lines removed).
#[derive(Clone, Debug, Default)]
pub struct Doc {
    /// Tags in source order.
    pub tags: Vec<Tag>,
    /// The prose lines, trimmed, without tag lines.
    pub lines: Vec<String>,
}

impl Doc {
    /// All tags with this name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Tag> + 'a {
        self.tags.iter().filter(move |t| t.name == name)
    }

    /// The first tag with this name.
    pub fn get(&self, name: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.name == name)
    }

    /// True when a tag with this name is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The prose as an OpenAPI description: lines of a paragraph joined with spaces, paragraphs
    /// separated by a blank line.
    pub fn description(&self) -> String {
        let mut out = String::new();
        let mut blank = false;
        for line in &self.lines {
            if line.is_empty() {
                blank = !out.is_empty();
                continue;
            }
            if !out.is_empty() {
                out.push_str(if blank { "\n\n" } else { " " });
            }
            blank = false;
            out.push_str(line);
        }
        out
    }
}

/// A source file's text, split into lines, used to turn spans into exact columns.
pub struct Source {
    /// The file's path as given.
    pub path: Arc<Path>,
    lines: Vec<String>,
}

impl Source {
    /// Wraps a file's text.
    pub fn new(path: Arc<Path>, text: &str) -> Self {
        Self { path, lines: text.lines().map(str::to_string).collect() }
    }

    /// The location of a syntax node.
    pub fn loc(&self, span: proc_macro2::Span) -> Loc {
        let start = span.start();
        Loc::new(&self.path, start.line, start.column + 1)
    }

    /// The 1-based column of `needle` in `line`, searching from character `from`.
    fn find(&self, line: usize, needle: &str, from: usize) -> Option<usize> {
        let text = self.lines.get(line.checked_sub(1)?)?;
        let byte_from = text.char_indices().nth(from).map_or(text.len(), |(b, _)| b);
        let at = text[byte_from..].find(needle)? + byte_from;
        Some(text[..at].chars().count() + 1)
    }

    /// Reads the doc comments among `attrs` (outer `///` or inner `//!`), checking each tag
    /// against the registry and the place it stands.
    pub fn doc(&self, attrs: &[syn::Attribute], place: Place, diags: &mut Diagnostics) -> Doc {
        let mut doc = Doc::default();
        for attr in attrs {
            if !attr.path().is_ident("doc") {
                continue;
            }
            let syn::Meta::NameValue(nv) = &attr.meta else { continue };
            let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) = &nv.value else { continue };
            let start = attr.span().start();
            for (i, raw) in s.value().lines().enumerate() {
                let line_no = start.line + i;
                let trimmed = raw.trim();
                let is_tag =
                    trimmed.starts_with('+') && trimmed[1..].chars().next().is_some_and(|c| c.is_ascii_alphabetic());
                if !is_tag {
                    doc.lines.push(trimmed.to_string());
                    continue;
                }
                let col = self.find(line_no, trimmed, 0).unwrap_or(start.column + 1);
                let loc = Loc::new(&self.path, line_no, col);
                if let Some(tag) = self.parse_tag(&trimmed[1..], loc, place, diags) {
                    doc.tags.push(tag);
                }
            }
        }
        doc
    }

    fn parse_tag(&self, text: &str, loc: Loc, place: Place, diags: &mut Diagnostics) -> Option<Tag> {
        // The name is the longest registered prefix followed by the end, `=` or `:`.
        let name_end = text.find('=').unwrap_or(text.len());
        let head = &text[..name_end];
        let mut name = head.to_string();
        let mut rest = &text[name_end..];
        let mut found = lookup(head);
        if found.is_none() {
            // Argument-style markers put `:key=value` after the name.
            let mut cut = head.len();
            while let Some(i) = head[..cut].rfind(':') {
                if let Some((places, Style::Args)) = lookup(&head[..i]) {
                    found = Some((places, Style::Args));
                    name = head[..i].to_string();
                    rest = &text[i..];
                    break;
                }
                cut = i;
            }
        }
        let Some((places, style)) = found else {
            let names = all_names();
            let hint = naming::suggest(head, names.iter().map(String::as_str))
                .map(|s| format!("did you mean `+{s}`?"))
                .unwrap_or_else(|| "see the tag list in the codegen crate documentation".to_string());
            diags.error_hint(loc, format!("unknown tag `+{head}`"), hint);
            return None;
        };
        let place_bit = match place {
            Place::Package => PKG,
            Place::Type => TYPE,
            Place::Field => FIELD,
        };
        if places & place_bit == 0 {
            let wants = if places & PKG != 0 {
                "on the package (an inner `//!` doc comment in the group or version mod.rs)"
            } else if places & TYPE != 0 {
                "on a struct or enum"
            } else {
                "on a field"
            };
            diags.error(loc, format!("tag `+{name}` belongs {wants}, not here"));
            return None;
        }
        let value_col = loc.col + 1 + (text.len() - rest.len()) + 1;
        let value_loc = Loc::new(&loc.file, loc.line, value_col);
        let mut tag = Tag { name: name.clone(), value: None, args: vec![], loc: loc.clone(), value_loc };
        match style {
            Style::Obsolete(new) => {
                diags.error_hint(
                    loc,
                    format!("`+{text}` is the old form and is not supported"),
                    format!("use `{new}`"),
                );
                return None;
            }
            Style::Flag => {
                if let Some(v) = rest.strip_prefix('=') {
                    if name == "genclient" {
                        diags.error_hint(
                            loc,
                            format!("`+genclient={v}` is invalid"),
                            "write `+genclient` to generate a client, or omit the tag to generate none",
                        );
                    } else {
                        diags.error(loc, format!("tag `+{name}` takes no value"));
                    }
                    return None;
                }
            }
            Style::Value | Style::FlagOrValue => match rest.strip_prefix('=') {
                Some(v) => tag.value = Some(v.trim().to_string()),
                None if style == Style::Value => {
                    diags.error_hint(loc, format!("tag `+{name}` needs a value"), format!("write `+{name}=<value>`"));
                    return None;
                }
                None => {}
            },
            Style::Args => {
                if let Some(args) = rest.strip_prefix(':') {
                    match split_args(args) {
                        Ok(parts) => {
                            let base = loc.col + 1 + name.len() + 1;
                            for (key, value, offset) in parts {
                                let arg_loc = Loc::new(&loc.file, loc.line, base + offset);
                                tag.args.push(Arg { key, value, loc: arg_loc });
                            }
                        }
                        Err((offset, msg)) => {
                            let at = Loc::new(&loc.file, loc.line, loc.col + 1 + name.len() + 1 + offset);
                            diags.error(at, format!("malformed arguments to `+{name}`: {msg}"));
                            return None;
                        }
                    }
                } else if !rest.is_empty() {
                    diags.error_hint(
                        loc,
                        format!("malformed tag `+{text}`"),
                        format!("arguments follow a colon: `+{name}:key=value,key=value`"),
                    );
                    return None;
                }
            }
        }
        Some(tag)
    }
}

/// `(key, unquoted value, char offset of the key)`.
pub type RawArg = (String, String, usize);

/// Splits `a=1,b="x, y",c=p;q` into arguments (also used by the RBAC markers); an error carries the char offset and a message.
pub fn split_args(s: &str) -> Result<Vec<RawArg>, (usize, String)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = vec![];
    let mut i = 0;
    while i < chars.len() {
        let key_start = i;
        while i < chars.len() && chars[i] != '=' && chars[i] != ',' {
            i += 1;
        }
        let key: String = chars[key_start..i].iter().collect();
        if key.trim().is_empty() {
            return Err((key_start, "expected `key=value`".into()));
        }
        if i >= chars.len() || chars[i] != '=' {
            return Err((key_start, format!("`{}` has no value", key.trim())));
        }
        i += 1;
        let mut value = String::new();
        if i < chars.len() && (chars[i] == '"' || chars[i] == '`') {
            let quote = chars[i];
            let open = i;
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err((open, "unterminated quoted value".into())),
                    Some('\\') if quote == '"' => {
                        if let Some(&c) = chars.get(i + 1) {
                            value.push(c);
                        }
                        i += 2;
                    }
                    Some(&c) if c == quote => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
            if i < chars.len() && chars[i] != ',' {
                return Err((i, "expected `,` after a quoted value".into()));
            }
        } else {
            while i < chars.len() && chars[i] != ',' {
                value.push(chars[i]);
                i += 1;
            }
        }
        out.push((key.trim().to_string(), value.trim().to_string(), key_start));
        i += 1; // skip the comma
    }
    Ok(out)
}

/// Removes one level of `"..."` or `` `...` `` quoting from a tag value.
pub fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        serde_json::from_str::<String>(v).unwrap_or_else(|_| v[1..v.len() - 1].to_string())
    } else if v.len() >= 2 && v.starts_with('`') && v.ends_with('`') {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_split_with_quotes() {
        let a = split_args(r#"name=NODES,type=integer,JSONPath=".spec.nodes",description="a, b""#).unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(a[2].0, "JSONPath");
        assert_eq!(a[2].1, ".spec.nodes");
        assert_eq!(a[3].1, "a, b");
        assert_eq!(a[1].2, 11);
        assert!(split_args("name").is_err());
        assert!(split_args(r#"name="x"#).is_err());
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote(r#""a\"b""#), "a\"b");
        assert_eq!(unquote("`^a+$`"), "^a+$");
        assert_eq!(unquote("plain"), "plain");
    }
}
