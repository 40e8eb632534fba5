//! `record!` declares a jute record once: the struct, its encoder and its decoder, from a field
//! list that reads like the `.jute` file (fields in wire order).

/// Declares one or more jute records. Each field type must implement `Encode` and `Decode`.
#[macro_export]
macro_rules! record {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident { $($field:ident : $ty:ty),* $(,)? }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name { $(pub $field: $ty),* }

        impl $crate::Encode for $name {
            #[allow(unused_variables)]
            fn encode(&self, out: &mut bytes::BytesMut) {
                $($crate::Encode::encode(&self.$field, out);)*
            }
        }

        impl $crate::Decode for $name {
            #[allow(unused_variables)]
            fn decode(r: &mut $crate::Reader) -> Result<Self, $crate::DecodeError> {
                Ok($name { $($field: <$ty as $crate::Decode>::decode(r)?),* })
            }
        }

        impl $crate::codec::Sample for $name {
            #[allow(unused_variables)]
            fn sample(r: &mut $crate::codec::SampleRng) -> Self {
                $name { $($field: <$ty as $crate::codec::Sample>::sample(r)),* }
            }
        }
    )*};
}
