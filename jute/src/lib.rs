//! ZooKeeper's jute records and their binary codec: every record of ZooKeeper 3.9's
//! `zookeeper.jute`, each declared once with [`record!`], plus the numbers the protocol gives
//! meaning to. No I/O and no server logic live here.

#[macro_use]
pub mod record;
pub mod codec;
pub mod consts;
pub mod data;
pub mod proto;
pub mod quorum;
pub mod request;
pub mod txn;

pub use codec::{Decode, DecodeError, Encode, Reader};
pub use consts::*;
pub use data::*;
pub use proto::*;
pub use quorum::*;
pub use request::*;
pub use txn::*;
