//! Decoding objects without `metadata.managedFields`.
//!
//! client-go strips managedFields with a transform, after the object was decoded: every list and
//! every watch event still pays for parsing them into maps of maps of strings, only to drop them a
//! moment later. On a typical object they are a third of the JSON and most of the decoding and
//! freeing work (measured: stripping after decoding was 70 % of our reflector's cost on an initial
//! sync). [`WithoutManagedFields`] skips them while parsing instead: the parser steps over the
//! value without building anything, and the object comes out exactly as decode-then-strip would
//! leave it.
//!
//! It works with any `Deserialize` type by wrapping the deserializer rather than the type: the
//! object's own map is watched for the `metadata` key, and inside that value the `managedFields`
//! entry is consumed as [`IgnoredAny`] and never shown to the type's visitor. Everything else is
//! forwarded untouched, so borrowed strings, numbers and errors (with their line and column)
//! behave as without the wrapper.

use kube::Resource;
use kube::api::ObjectMeta;
use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// `K` decoded with `metadata.managedFields` skipped (left `None`).
///
/// It is a [`Resource`] of the same kind as `K`, so `Api<WithoutManagedFields<K>>` lists and
/// watches the same URL as `Api<K>`; the informers use it unless told to keep managedFields.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct WithoutManagedFields<K>(pub K);

impl<K> WithoutManagedFields<K> {
    /// The decoded object.
    pub fn into_inner(self) -> K {
        self.0
    }
}

impl<'de, K: Deserialize<'de>> Deserialize<'de> for WithoutManagedFields<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        K::deserialize(Filter { inner: deserializer, level: Level::Object }).map(Self)
    }
}

impl<K: Resource> Resource for WithoutManagedFields<K> {
    type DynamicType = K::DynamicType;
    // Dynamic, so `Api::namespaced_with` builds it for namespaced and cluster-scoped kinds alike;
    // the URL is `K`'s either way.
    type Scope = kube::core::DynamicResourceScope;

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }
    fn api_version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::api_version(dt)
    }
    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn metadata_api() -> bool {
        K::metadata_api()
    }
    fn url_path(dt: &Self::DynamicType, namespace: Option<&str>) -> String {
        K::url_path(dt, namespace)
    }
    fn meta(&self) -> &ObjectMeta {
        self.0.meta()
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.0.meta_mut()
    }
}

/// Where in the object the filter is.
#[derive(Clone, Copy, Debug)]
enum Level {
    /// The object itself: watch for its `metadata` entry.
    Object,
    /// The value of `metadata`: skip its `managedFields` entry.
    Metadata,
}

/// A deserializer that hands its visitor a filtering map.
struct Filter<D> {
    inner: D,
    level: Level,
}

/// Forwards `Deserializer` methods unchanged to the wrapped deserializer.
macro_rules! forward_plain {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.inner.$method(visitor)
        }
    )*};
}

/// Forwards `Deserializer` methods with the visitor wrapped, so a map found there is filtered.
macro_rules! forward_filtered {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.inner.$method(FilterVisitor { inner: visitor, level: self.level })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Filter<D> {
    type Error = D::Error;

    forward_filtered!(deserialize_any, deserialize_map, deserialize_option);
    forward_plain!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_seq,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_unit_struct(name, visitor)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_newtype_struct(name, FilterVisitor { inner: visitor, level: self.level })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_tuple(len, visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_tuple_struct(name, len, visitor)
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_struct(name, fields, FilterVisitor { inner: visitor, level: self.level })
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_enum(name, variants, visitor)
    }
    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A visitor that filters the map it is given; every other input passes through.
struct FilterVisitor<V> {
    inner: V,
    level: Level,
}

/// Forwards `Visitor` methods taking one value unchanged.
macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for FilterVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Filter { inner: d, level: self.level })
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Filter { inner: d, level: self.level })
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(seq)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(data)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(FilterMap { inner: map, level: self.level, metadata_next: false })
    }
}

/// A map key as the parser gave it: borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The object's map (watching for `metadata`) or the metadata map (skipping `managedFields`).
struct FilterMap<A> {
    inner: A,
    level: Level,
    /// The key just returned was the object's `metadata`.
    metadata_next: bool,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for FilterMap<A> {
    type Error = A::Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error> {
        loop {
            let Some(key) = self.inner.next_key::<Key<'de>>()? else {
                return Ok(None);
            };
            match self.level {
                Level::Metadata if key.as_str() == "managedFields" => {
                    self.inner.next_value::<IgnoredAny>()?;
                    continue;
                }
                Level::Metadata => {}
                Level::Object => self.metadata_next = key.as_str() == "metadata",
            }
            return match key {
                Key::Borrowed(s) => seed.deserialize(BorrowedStrDeserializer::new(s)),
                Key::Owned(s) => seed.deserialize(StringDeserializer::new(s)),
            }
            .map(Some);
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        if std::mem::take(&mut self.metadata_next) {
            self.inner.next_value_seed(FilterSeed { inner: seed, level: Level::Metadata })
        } else {
            self.inner.next_value_seed(seed)
        }
    }
}

/// Deserializes a map value through a [`Filter`].
struct FilterSeed<S> {
    inner: S,
    level: Level,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for FilterSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Filter { inner: d, level: self.level })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Pod};
    use kube::api::DynamicObject;
    use serde::de::DeserializeOwned;
    use serde_json::json;

    /// Decoding through the filter equals decoding fully and then dropping managedFields.
    fn same_as_strip<K: DeserializeOwned + Resource + PartialEq + fmt::Debug>(doc: &serde_json::Value) {
        let text = serde_json::to_string(doc).unwrap();
        let mut expected: K = serde_json::from_str(&text).unwrap();
        expected.meta_mut().managed_fields = None;
        let got: WithoutManagedFields<K> = serde_json::from_str(&text).unwrap();
        assert_eq!(got.0, expected, "{text}");
        // From bytes (watch lines) and from a Value (owned strings, never borrowed) as well.
        let got: WithoutManagedFields<K> = serde_json::from_slice(text.as_bytes()).unwrap();
        assert_eq!(got.0, expected);
        let got = WithoutManagedFields::<K>::deserialize(doc.clone()).unwrap();
        assert_eq!(got.0, expected);
    }

    fn managed() -> serde_json::Value {
        json!([{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:x": {}}}}}])
    }

    #[test]
    fn skips_managed_fields_of_typed_objects_and_keeps_everything_else() {
        same_as_strip::<ConfigMap>(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "ns", "resourceVersion": "7", "labels": {"x": "1"},
                         "managedFields": managed(), "annotations": {"managedFields": "kept"}},
            "data": {"managedFields": "kept too", "metadata": "and this"}
        }));
        // metadata after the body, managedFields first in metadata.
        same_as_strip::<Pod>(&json!({
            "spec": {"containers": [{"name": "c", "image": "i"}]},
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"managedFields": managed(), "name": "p", "uid": "u"},
            "status": {"phase": "Running"}
        }));
        // No managedFields at all, and a null one.
        same_as_strip::<ConfigMap>(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}));
        same_as_strip::<ConfigMap>(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "b", "managedFields": null}}));
    }

    #[test]
    fn skips_managed_fields_of_dynamic_objects() {
        same_as_strip::<DynamicObject>(&json!({
            "apiVersion": "example.com/v1", "kind": "Thing",
            "metadata": {"name": "t", "managedFields": managed()},
            "spec": {"metadata": {"managedFields": "a field of the spec, kept"}}
        }));
    }

    #[test]
    fn escaped_keys_are_still_recognised() {
        let text = r#"{"apiVersion":"v1","kind":"ConfigMap","metad\u0061ta":{"name":"e","m\u0061nagedFields":[{"manager":"m"}]}}"#;
        let got: WithoutManagedFields<ConfigMap> = serde_json::from_str(text).unwrap();
        assert_eq!(got.0.metadata.name.as_deref(), Some("e"));
        assert!(got.0.metadata.managed_fields.is_none());
    }

    #[test]
    fn errors_keep_their_position_and_skipped_values_are_still_checked() {
        let bad = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\n\"metadata\":{\"name\":5}}";
        let err = serde_json::from_str::<WithoutManagedFields<ConfigMap>>(bad).unwrap_err();
        let plain = serde_json::from_str::<ConfigMap>(bad).unwrap_err();
        assert_eq!((err.line(), err.column()), (plain.line(), plain.column()));
        assert_eq!(err.to_string(), plain.to_string());
        // A skipped value must still be well-formed JSON.
        let broken = r#"{"metadata":{"managedFields":[{"manager":}]}}"#;
        assert!(serde_json::from_str::<WithoutManagedFields<ConfigMap>>(broken).is_err());
    }

    #[test]
    fn is_a_resource_of_the_same_kind() {
        assert_eq!(WithoutManagedFields::<ConfigMap>::url_path(&(), Some("ns")), ConfigMap::url_path(&(), Some("ns")));
        assert_eq!(WithoutManagedFields::<ConfigMap>::kind(&()), "ConfigMap");
    }
}
