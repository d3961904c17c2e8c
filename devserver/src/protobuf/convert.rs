//! What the generated conversions (`generated.rs`) stand on: the [`Pb`] trait, one helper per
//! pair of field shapes, the types whose protobuf and JSON forms really differ (times,
//! quantities, int-or-string, raw JSON), and decoding and encoding through serde.
//!
//! A protobuf message has no "absent list" and no required fields, so the shapes differ: a
//! repeated field that is empty is an absent `Option<Vec<_>>` in JSON (Go's `omitempty` of a nil
//! slice), and a required field that is absent is its zero value.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, MicroTime, Time};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::{ByteString, jiff};
use k8s_pb::apimachinery::pkg::api::resource as pb_resource;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pb_meta;
use k8s_pb::apimachinery::pkg::runtime as pb_runtime;
use k8s_pb::apimachinery::pkg::util::intstr as pb_intstr;
use prost::Message;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A conversion from one crate's form of a type into the other's.
pub trait Pb<T> {
    /// The value in the other form.
    fn pb(self) -> T;
    /// True for a protobuf message that stands for Go's zero value, which JSON leaves out (an
    /// empty `Time`).
    fn is_zero(&self) -> bool {
        false
    }
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl Pb<$t> for $t {
            fn pb(self) -> $t {
                self
            }
        }
    )*};
}
same!(i32, i64, bool, f64);

same!(String);

/// A scalar's zero value (Go's).
pub trait Zero {
    /// True for "", 0 and false.
    fn zero(&self) -> bool;
}

macro_rules! zero {
    ($($t:ty => $z:expr),*) => {$(
        impl Zero for $t {
            fn zero(&self) -> bool {
                *self == $z
            }
        }
    )*};
}
zero!(i32 => 0, i64 => 0, bool => false, f64 => 0.0);

impl Zero for String {
    fn zero(&self) -> bool {
        self.is_empty()
    }
}

impl Pb<ByteString> for Vec<u8> {
    fn pb(self) -> ByteString {
        ByteString(self)
    }
}

impl Pb<Vec<u8>> for ByteString {
    fn pb(self) -> Vec<u8> {
        self.0
    }
}

/// An optional field on both sides.
pub fn opt<A: Pb<B>, B>(x: Option<A>) -> Option<B> {
    x.filter(|a| !a.is_zero()).map(Pb::pb)
}

/// A non-pointer `omitempty` scalar: Go's protobuf always sends it, its JSON leaves a zero out.
pub fn nz<A: Pb<B> + Zero, B>(x: Option<A>) -> Option<B> {
    x.filter(|a| !a.zero()).map(Pb::pb)
}

/// An optional protobuf field into a required one: absent is the zero value.
pub fn req<A: Pb<B> + Default, B>(x: Option<A>) -> B {
    x.unwrap_or_default().pb()
}

/// A required field into an optional protobuf field.
pub fn some<A: Pb<B>, B>(x: A) -> Option<B> {
    Some(x.pb())
}

/// A list on both sides.
pub fn vec<A: Pb<B>, B>(x: Vec<A>) -> Vec<B> {
    x.into_iter().map(Pb::pb).collect()
}

/// A repeated field into an optional list: empty is absent.
pub fn vec_opt<A: Pb<B>, B>(x: Vec<A>) -> Option<Vec<B>> {
    if x.is_empty() { None } else { Some(vec(x)) }
}

/// An optional list into a repeated field.
pub fn opt_vec<A: Pb<B>, B>(x: Option<Vec<A>>) -> Vec<B> {
    x.map(vec).unwrap_or_default()
}

/// A map on both sides.
pub fn map<A: Pb<B>, B>(x: BTreeMap<String, A>) -> BTreeMap<String, B> {
    x.into_iter().map(|(k, v)| (k, v.pb())).collect()
}

/// A protobuf map into an optional map: empty is absent.
pub fn map_opt<A: Pb<B>, B>(x: BTreeMap<String, A>) -> Option<BTreeMap<String, B>> {
    if x.is_empty() { None } else { Some(map(x)) }
}

/// An optional map into a protobuf map.
pub fn opt_map<A: Pb<B>, B>(x: Option<BTreeMap<String, A>>) -> BTreeMap<String, B> {
    x.map(map).unwrap_or_default()
}

impl Pb<Quantity> for pb_resource::Quantity {
    fn pb(self) -> Quantity {
        Quantity(self.string.unwrap_or_default())
    }
}

impl Pb<pb_resource::Quantity> for Quantity {
    fn pb(self) -> pb_resource::Quantity {
        pb_resource::Quantity { string: Some(self.0) }
    }
}

/// `IntOrString.type`: 0 is an int, 1 a string.
const INT_OR_STRING_STRING: i64 = 1;

impl Pb<IntOrString> for pb_intstr::IntOrString {
    fn pb(self) -> IntOrString {
        if self.r#type == Some(INT_OR_STRING_STRING) {
            IntOrString::String(self.str_val.unwrap_or_default())
        } else {
            IntOrString::Int(self.int_val.unwrap_or_default())
        }
    }
}

impl Pb<pb_intstr::IntOrString> for IntOrString {
    fn pb(self) -> pb_intstr::IntOrString {
        match self {
            IntOrString::Int(i) => pb_intstr::IntOrString { r#type: Some(0), int_val: Some(i), str_val: None },
            IntOrString::String(s) => {
                pb_intstr::IntOrString { r#type: Some(INT_OR_STRING_STRING), int_val: None, str_val: Some(s) }
            }
        }
    }
}

fn timestamp(seconds: Option<i64>, nanos: Option<i32>) -> jiff::Timestamp {
    jiff::Timestamp::new(seconds.unwrap_or_default(), nanos.unwrap_or_default()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

impl Pb<Time> for pb_meta::Time {
    fn pb(self) -> Time {
        Time(timestamp(self.seconds, self.nanos))
    }
    fn is_zero(&self) -> bool {
        self.seconds.is_none() && self.nanos.is_none()
    }
}

impl Pb<pb_meta::Time> for Time {
    fn pb(self) -> pb_meta::Time {
        // Kubernetes' `Time` is whole seconds on the wire, as in JSON.
        pb_meta::Time { seconds: Some(self.0.as_second()), nanos: Some(0) }
    }
}

impl Pb<MicroTime> for pb_meta::MicroTime {
    fn pb(self) -> MicroTime {
        MicroTime(timestamp(self.seconds, self.nanos))
    }
    fn is_zero(&self) -> bool {
        self.seconds.is_none() && self.nanos.is_none()
    }
}

impl Pb<pb_meta::MicroTime> for MicroTime {
    fn pb(self) -> pb_meta::MicroTime {
        pb_meta::MicroTime { seconds: Some(self.0.as_second()), nanos: Some(self.0.subsec_nanosecond()) }
    }
}

/// Raw JSON bytes as a value (`null` when they are not JSON).
fn json_of(raw: Option<Vec<u8>>) -> Value {
    raw.and_then(|r| serde_json::from_slice(&r).ok()).unwrap_or(Value::Null)
}

impl Pb<FieldsV1> for pb_meta::FieldsV1 {
    fn pb(self) -> FieldsV1 {
        FieldsV1(json_of(self.raw))
    }
}

impl Pb<pb_meta::FieldsV1> for FieldsV1 {
    fn pb(self) -> pb_meta::FieldsV1 {
        pb_meta::FieldsV1 { raw: Some(self.0.to_string().into_bytes()) }
    }
}

impl Pb<RawExtension> for pb_runtime::RawExtension {
    fn pb(self) -> RawExtension {
        RawExtension(json_of(self.raw))
    }
}

impl Pb<pb_runtime::RawExtension> for RawExtension {
    fn pb(self) -> pb_runtime::RawExtension {
        pb_runtime::RawExtension { raw: Some(self.0.to_string().into_bytes()) }
    }
}

/// Decodes the protobuf message `raw` as `P` and gives its JSON (through k8s-openapi's `O`).
pub fn decode_as<P: Message + Default + Pb<O>, O: Serialize>(raw: &[u8]) -> Result<Value, String> {
    let message = P::decode(raw).map_err(|e| e.to_string())?;
    serde_json::to_value(message.pb()).map_err(|e| e.to_string())
}

/// Encodes the JSON object `obj` as the protobuf message `P` (through k8s-openapi's `O`).
pub fn encode_as<O: DeserializeOwned + Pb<P>, P: Message>(obj: &Value) -> Result<Vec<u8>, String> {
    let typed = O::deserialize(obj).map_err(|e| e.to_string())?;
    Ok(typed.pb().encode_to_vec())
}

/// Encodes a list of `O` objects as the protobuf list message `L`, built by `list`.
pub fn encode_list_as<O: DeserializeOwned + Pb<P>, P, L: Message>(
    list_meta: &Value,
    items: &[&Value],
    list: impl FnOnce(Option<pb_meta::ListMeta>, Vec<P>) -> L,
) -> Result<Vec<u8>, String> {
    let meta =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta::deserialize(list_meta).map_err(|e| e.to_string())?;
    let items = items
        .iter()
        .map(|i| O::deserialize(*i).map(Pb::pb).map_err(|e| e.to_string()))
        .collect::<Result<Vec<P>, String>>()?;
    Ok(list(Some(meta.pb()), items).encode_to_vec())
}
