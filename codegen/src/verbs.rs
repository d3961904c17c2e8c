//! Client verbs and client-gen's rules for choosing them.
//!
//! The order is client-go's `SupportedVerbs`; generated clients list methods in this order.
//! `apply` and `applyStatus` are always available in Rust because kube speaks server-side apply
//! natively (client-gen needs an apply-configuration package for them).

use std::fmt;

/// One client verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// POST a new object.
    Create,
    /// PUT the whole object.
    Update,
    /// PUT the status subresource.
    UpdateStatus,
    /// DELETE one object.
    Delete,
    /// DELETE a selection.
    DeleteCollection,
    /// GET one object.
    Get,
    /// GET a list.
    List,
    /// GET a watch stream.
    Watch,
    /// PATCH (merge, JSON, strategic).
    Patch,
    /// Server-side apply.
    Apply,
    /// Server-side apply of the status subresource.
    ApplyStatus,
}

impl Verb {
    /// All verbs in client-go order.
    pub const ALL: [Verb; 11] = [
        Verb::Create,
        Verb::Update,
        Verb::UpdateStatus,
        Verb::Delete,
        Verb::DeleteCollection,
        Verb::Get,
        Verb::List,
        Verb::Watch,
        Verb::Patch,
        Verb::Apply,
        Verb::ApplyStatus,
    ];

    /// The verb's name in tags.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::UpdateStatus => "updateStatus",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deleteCollection",
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Patch => "patch",
            Verb::Apply => "apply",
            Verb::ApplyStatus => "applyStatus",
        }
    }

    /// Parses a verb as written in a tag.
    pub fn parse(s: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// True for verbs that act on the status subresource.
    pub fn is_status(self) -> bool {
        matches!(self, Verb::UpdateStatus | Verb::ApplyStatus)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of verbs, always iterated in client-go order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verbs(u16);

impl Verbs {
    /// Every verb.
    pub fn all() -> Self {
        Verb::ALL.into_iter().collect()
    }

    /// No verbs.
    pub fn none() -> Self {
        Self(0)
    }

    /// True when `v` is in the set.
    pub fn has(self, v: Verb) -> bool {
        self.0 & (1 << v as u16) != 0
    }

    /// Adds `v`.
    pub fn insert(&mut self, v: Verb) {
        self.0 |= 1 << v as u16;
    }

    /// Removes `v`.
    pub fn remove(&mut self, v: Verb) {
        self.0 &= !(1 << v as u16);
    }

    /// The verbs in client-go order.
    pub fn iter(self) -> impl Iterator<Item = Verb> {
        Verb::ALL.into_iter().filter(move |v| self.has(*v))
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Verb> for Verbs {
    fn from_iter<I: IntoIterator<Item = Verb>>(iter: I) -> Self {
        let mut s = Verbs::none();
        for v in iter {
            s.insert(v);
        }
        s
    }
}

/// The verbs `+genclient:readonly` keeps.
pub const READONLY: [Verb; 3] = [Verb::Get, Verb::List, Verb::Watch];

/// Verbs an extension method may not use (client-gen's `unsupportedExtensionVerbs`).
pub const EXTENSION_FORBIDDEN: [Verb; 4] = [Verb::UpdateStatus, Verb::DeleteCollection, Verb::Watch, Verb::Delete];

/// Verbs whose extension may name an `input=` type.
pub const EXTENSION_INPUT: [Verb; 3] = [Verb::Create, Verb::Update, Verb::Apply];

/// Verbs whose extension may name a `result=` type.
pub const EXTENSION_RESULT: [Verb; 6] = [Verb::Create, Verb::Update, Verb::Get, Verb::List, Verb::Patch, Verb::Apply];
