//! The envelope every command and outcome travels in, in the log and between nodes.
//!
//! Format 2 (0.1) wrote a command as the bincode of [`v2::Command`]: a `u32` variant position,
//! then its fields. The envelope keeps those bytes exactly (a 0.1 node must read what this one
//! writes while the cluster version is 2) and takes the next free position for every later
//! format: `Framed(format: u32, payload)`. Decoding reads the position first: below
//! [`v2::COMMAND_VARIANTS`] it is a format-2 command, decoded with the frozen types and
//! converted; at it, the format number comes next and picks the model for the payload. A 0.1
//! node meeting `Framed` stops at an unknown variant instead of misreading the payload.
//!
//! bincode is not self-describing, so the variant position cannot be peeked at and handed back:
//! [`Replay`] re-offers the position already read to the frozen enum's derived decoder.

use serde::de::value::U32Deserializer;
use serde::de::{self, DeserializeSeed, EnumAccess, SeqAccess, VariantAccess, Visitor};
use serde::ser::{self, SerializeTupleVariant};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{v2, v3, v4, FormatError, FormatVersion, BASELINE};
use crate::command::Command;
use crate::outcome::Outcome;

/// A command and the storage format it is (or is to be) written in: the payload of every log
/// entry (openraft's app data) and the body of a forwarded write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedCommand {
    pub format: FormatVersion,
    pub command: Command,
}

/// An outcome and the format it is written in: a leader's answer to a forwarded write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedOutcome {
    pub format: FormatVersion,
    pub outcome: Outcome,
}

impl VersionedCommand {
    pub fn new(format: FormatVersion, command: Command) -> Self {
        Self { format, command }
    }
}

impl VersionedOutcome {
    pub fn new(format: FormatVersion, outcome: Outcome) -> Self {
        Self { format, outcome }
    }
}

/// A type of the current model that travels in the envelope.
trait Enveloped: Sized + Serialize + Clone {
    /// Its frozen format-2 type.
    type V2: Serialize + for<'de> Deserialize<'de> + TryFrom<Self, Error = FormatError> + Into<Self>;
    /// Its frozen format-3 type.
    type V3: Serialize + for<'de> Deserialize<'de> + TryFrom<Self, Error = FormatError> + Into<Self>;
    type V4: Serialize + for<'de> Deserialize<'de> + TryFrom<Self, Error = FormatError> + Into<Self>;
    /// The envelope's position: one past the format-2 enum's variants.
    const FRAMED: u32;
    /// The enum name bincode is given (it ignores it; self-describing formats would not).
    const NAME: &'static str;
    /// Decode the payload of a `Framed` envelope written in `format`, and convert it.
    fn read_framed<'de, A: SeqAccess<'de>>(
        format: FormatVersion,
        seq: &mut A,
    ) -> Result<Option<Self>, A::Error>;
}

impl Enveloped for Command {
    type V2 = v2::Command;
    type V3 = v3::Command;
    type V4 = v4::Command;
    const FRAMED: u32 = v2::COMMAND_VARIANTS;
    const NAME: &'static str = "Command";
    fn read_framed<'de, A: SeqAccess<'de>>(
        format: FormatVersion,
        seq: &mut A,
    ) -> Result<Option<Self>, A::Error> {
        // Adding format 6: `5 => seq.next_element::<v5::Command>().map(|c| c.map(Into::into))`.
        match format {
            3 => Ok(seq.next_element::<v3::Command>()?.map(Into::into)),
            4 => Ok(seq.next_element::<v4::Command>()?.map(Into::into)),
            5 => seq.next_element::<Command>(),
            other => Err(de::Error::custom(FormatError::Unknown(other))),
        }
    }
}

impl Enveloped for Outcome {
    type V2 = v2::Outcome;
    type V3 = v3::Outcome;
    type V4 = v4::Outcome;
    const FRAMED: u32 = v2::OUTCOME_VARIANTS;
    const NAME: &'static str = "Outcome";
    fn read_framed<'de, A: SeqAccess<'de>>(
        format: FormatVersion,
        seq: &mut A,
    ) -> Result<Option<Self>, A::Error> {
        match format {
            3 => Ok(seq.next_element::<v3::Outcome>()?.map(Into::into)),
            4 => Ok(seq.next_element::<v4::Outcome>()?.map(Into::into)),
            5 => seq.next_element::<Outcome>(),
            other => Err(de::Error::custom(FormatError::Unknown(other))),
        }
    }
}

fn write<T: Enveloped, S: Serializer>(
    format: FormatVersion,
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match format {
        1 | 2 => T::V2::try_from(value.clone())
            .map_err(ser::Error::custom)?
            .serialize(serializer),
        3 => {
            let old = T::V3::try_from(value.clone()).map_err(ser::Error::custom)?;
            write_framed::<T, _, S>(format, &old, serializer)
        }
        4 => {
            let old = T::V4::try_from(value.clone()).map_err(ser::Error::custom)?;
            write_framed::<T, _, S>(format, &old, serializer)
        }
        5 => write_framed::<T, _, S>(format, value, serializer),
        other => Err(ser::Error::custom(FormatError::Unknown(other))),
    }
}

/// `Framed(format, payload)`: the envelope of every format from 3 on.
fn write_framed<T: Enveloped, P: Serialize, S: Serializer>(
    format: FormatVersion,
    payload: &P,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut framed = serializer.serialize_tuple_variant(T::NAME, T::FRAMED, "Framed", 2)?;
    framed.serialize_field(&format)?;
    framed.serialize_field(payload)?;
    framed.end()
}

fn read<'de, T: Enveloped, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<(FormatVersion, T), D::Error> {
    // bincode ignores the variant names; they are here for any self-describing format.
    const VARIANTS: &[&str] = &["(format 2 variants)", "Framed"];
    deserializer.deserialize_enum(
        T::NAME,
        VARIANTS,
        EnvelopeVisitor::<T>(std::marker::PhantomData),
    )
}

struct EnvelopeVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Enveloped> Visitor<'de> for EnvelopeVisitor<T> {
    type Value = (FormatVersion, T);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a versioned {}", T::NAME)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let (position, variant): (u32, A::Variant) = data.variant()?;
        if position == T::FRAMED {
            variant.tuple_variant(2, FramedVisitor::<T>(std::marker::PhantomData))
        } else {
            let old = T::V2::deserialize(Replay { position, variant })?;
            Ok((BASELINE, old.into()))
        }
    }
}

struct FramedVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Enveloped> Visitor<'de> for FramedVisitor<T> {
    type Value = (FormatVersion, T);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a storage format number and a {}", T::NAME)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let format: FormatVersion = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        FormatError::check_readable(format).map_err(de::Error::custom)?;
        let value =
            T::read_framed(format, &mut seq)?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok((format, value))
    }
}

/// Hands an enum's variant position, already read, back to a derived enum decoder together
/// with the rest of the input (the variant's fields).
struct Replay<V> {
    position: u32,
    variant: V,
}

impl<'de, A: VariantAccess<'de>> Deserializer<'de> for Replay<A> {
    type Error = A::Error;

    fn deserialize_any<Vis: Visitor<'de>>(self, _: Vis) -> Result<Vis::Value, Self::Error> {
        Err(de::Error::custom(
            "only an enum can follow its variant position",
        ))
    }

    fn deserialize_enum<Vis: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: Vis,
    ) -> Result<Vis::Value, Self::Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

impl<'de, V: VariantAccess<'de>> EnumAccess<'de> for Replay<V> {
    type Error = V::Error;
    type Variant = V;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, V), V::Error> {
        let value = seed.deserialize(U32Deserializer::<V::Error>::new(self.position))?;
        Ok((value, self.variant))
    }
}

impl Serialize for VersionedCommand {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        write(self.format, &self.command, serializer)
    }
}

impl<'de> Deserialize<'de> for VersionedCommand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (format, command) = read(deserializer)?;
        Ok(Self { format, command })
    }
}

impl Serialize for VersionedOutcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        write(self.format, &self.outcome, serializer)
    }
}

impl<'de> Deserialize<'de> for VersionedOutcome {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (format, outcome) = read(deserializer)?;
        Ok(Self { format, outcome })
    }
}
