//! Names: pluralisation, case conversion and "did you mean" suggestions.
//!
//! Pluralisation follows gengo's namer exactly so that resource names match what a Go
//! code-generator user expects; `+resourceName=` overrides it where English disagrees.

/// The plural of a Kind in gengo's rules (`Policy` → `Policies`, `Box` → `Boxes`, `Leaf` → `Leaves`).
pub fn pluralize(singular: &str) -> String {
    let lower = singular.to_ascii_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let n = chars.len();
    if n == 0 {
        return String::new();
    }
    let last = chars[n - 1];
    let before = if n >= 2 { Some(chars[n - 2]) } else { None };
    let is_consonant = |c: char| c.is_ascii_alphabetic() && !"aeiou".contains(c);
    if matches!(last, 's' | 'x' | 'z') {
        return format!("{singular}es");
    }
    if last == 'y' && before.is_some_and(is_consonant) {
        return format!("{}ies", &singular[..singular.len() - 1]);
    }
    if last == 'h' && matches!(before, Some('c' | 's')) {
        return format!("{singular}es");
    }
    if last == 'e' && before == Some('f') {
        return format!("{}ves", &singular[..singular.len() - 2]);
    }
    if last == 'f' {
        return format!("{}ves", &singular[..singular.len() - 1]);
    }
    format!("{singular}s")
}

/// Splits an identifier into lowercase words: `BitcoinNetwork` and `bitcoin_network` both give
/// `["bitcoin", "network"]`; an acronym run stays one word (`HTTPRoute` → `["http", "route"]`).
pub fn words(ident: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = ident.chars().collect();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' || c == '.' {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let boundary = c.is_uppercase()
            && !cur.is_empty()
            && (chars[i - 1].is_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(|n| n.is_lowercase()));
        if boundary {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `BitcoinNetwork` → `bitcoin_network`.
pub fn snake(ident: &str) -> String {
    words(ident).join("_")
}

/// The snake_case plural of `kind` as the server spells its resource (`plural`):
/// (`NetworkPolicy`, `networkpolicies`) → `network_policies`, (`Endpoints`, `endpoints`) →
/// `endpoints`. `None` when the plural does not start with the kind's leading words.
pub fn plural_accessor(kind: &str, plural: &str) -> Option<String> {
    let mut words = words(kind);
    let last = words.pop()?;
    let head: String = words.concat();
    let tail = plural.strip_prefix(head.as_str())?;
    if tail.is_empty() || !tail.starts_with(last.chars().next()?) {
        return None;
    }
    words.push(tail.to_string());
    Some(words.join("_"))
}

/// `bitcoin_network` → `BitcoinNetwork`.
pub fn pascal(ident: &str) -> String {
    words(ident).iter().map(|w| capitalize(w)).collect()
}

/// `bitcoin_network` → `bitcoinNetwork`.
pub fn camel(ident: &str) -> String {
    let p = pascal(ident);
    let mut c = p.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The serde `rename_all` rules, applied to a Rust field (snake_case) or variant (PascalCase) name.
pub fn serde_rename(rule: &str, ident: &str, is_variant: bool) -> Option<String> {
    // serde converts from the identifier as written: fields are snake_case, variants PascalCase.
    let snake_src = if is_variant { snake(ident) } else { ident.to_string() };
    let pascal_src = if is_variant { ident.to_string() } else { pascal(ident) };
    Some(match rule {
        "lowercase" => {
            if is_variant {
                ident.to_ascii_lowercase()
            } else {
                ident.to_string()
            }
        }
        "UPPERCASE" => ident.to_ascii_uppercase(),
        "PascalCase" => pascal_src,
        "camelCase" => {
            let mut c = pascal_src.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => String::new(),
            }
        }
        "snake_case" => snake_src,
        "SCREAMING_SNAKE_CASE" => snake_src.to_ascii_uppercase(),
        "kebab-case" => snake_src.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => snake_src.replace('_', "-").to_ascii_uppercase(),
        _ => return None,
    })
}

/// Edit distance, used to suggest the tag or verb that was probably meant.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate to `input`, if it is close enough to be a plausible typo.
/// Case differences alone always count as close (`validation:minimum` → `validation:Minimum`).
pub fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = input.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = if c.to_ascii_lowercase() == lower { 0 } else { distance(&lower, &c.to_ascii_lowercase()) };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let limit = (input.len() / 3).max(2);
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c)
}

/// True for a DNS-1123 subdomain: lowercase alphanumerics, `-` and `.`, starting and ending
/// alphanumeric, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// True for a Rust identifier that is not a keyword.
pub fn is_rust_ident(s: &str) -> bool {
    syn::parse_str::<syn::Ident>(s).is_ok()
}

/// Keywords that Rust does not allow even as raw identifiers (`r#crate` is an error).
const NOT_RAW: [&str; 5] = ["crate", "self", "super", "Self", "_"];

/// Why `s` cannot name a generated module, method or type, or `None` when it can (directly, or
/// as a raw identifier like `r#type`). Names the generator derives from user input (a kind's
/// module `crate` from `Crate`, a group's module from its first DNS label) go through this
/// before any code is rendered, so rendering never meets a name it cannot write.
pub fn ident_problem(s: &str) -> Option<String> {
    if is_rust_ident(s) {
        return None;
    }
    if NOT_RAW.contains(&s) {
        return Some(format!("`{s}` is a Rust keyword that cannot be used as a name, not even as `r#{s}`"));
    }
    let mut chars = s.chars();
    let start_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    if start_ok && chars.all(|c| c.is_alphanumeric() || c == '_') {
        None // a keyword: written as `r#name`
    } else if s.is_empty() {
        Some("the name is empty".into())
    } else {
        Some(format!("`{s}` is not a Rust identifier"))
    }
}

/// True for a DNS-1035 label (what apiextensions requires of plural, singular, short names,
/// categories and the lowercased kind): lowercase alphanumerics and `-`, starting with a letter,
/// ending alphanumeric, at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_gengo() {
        for (s, p) in [
            ("BitcoinNetwork", "BitcoinNetworks"),
            ("Policy", "Policies"),
            ("Day", "Days"),
            ("Box", "Boxes"),
            ("Status", "Statuses"),
            ("Quiz", "Quizes"),
            ("Patch", "Patches"),
            ("Mesh", "Meshes"),
            ("Leaf", "Leaves"),
            ("Knife", "Knives"),
            ("Endpoints", "Endpointses"),
        ] {
            assert_eq!(pluralize(s), p, "{s}");
        }
    }

    #[test]
    fn case_conversion() {
        assert_eq!(snake("BitcoinNetwork"), "bitcoin_network");
        assert_eq!(snake("HTTPRoute"), "http_route");
        assert_eq!(snake("V1Beta1"), "v1_beta1");
        assert_eq!(pascal("bitcoin_network"), "BitcoinNetwork");
        assert_eq!(camel("ready_nodes"), "readyNodes");
        assert_eq!(serde_rename("camelCase", "observed_generation", false).unwrap(), "observedGeneration");
        assert_eq!(serde_rename("SCREAMING_SNAKE_CASE", "NotReady", true).unwrap(), "NOT_READY");
        assert_eq!(serde_rename("lowercase", "NotReady", true).unwrap(), "notready");
        assert!(serde_rename("Title Case", "x", false).is_none());
    }

    #[test]
    fn suggestions() {
        let c = ["genclient:nonNamespaced", "genclient:noStatus", "genclient:noVerbs"];
        assert_eq!(suggest("genclient:nonNamespace", c), Some("genclient:nonNamespaced"));
        assert_eq!(suggest("genclient:nostatus", c), Some("genclient:noStatus"));
        assert_eq!(suggest("something:else:entirely", c), None);
    }

    #[test]
    fn identifiers() {
        assert_eq!(ident_problem("bitcoin_network"), None);
        assert_eq!(ident_problem("type"), None, "raw identifiers are fine");
        for bad in ["crate", "self", "super", "Self", "_", "", "1x", "a-b", "a.b"] {
            assert!(ident_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_label("bn") && is_dns_label("b-2"));
        for bad in ["", "B", "2b", "b-", "b.c", "b_c", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
        assert!(is_dns_subdomain("bitcoincontroller.christianb93.github.com"));
        assert!(!is_dns_subdomain("Bad.example.com"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(!is_dns_subdomain("-a.b"));
    }
}
