//! The request pipeline: `prep` turns a write request into a transaction (or an error
//! transaction, which keeps its place in zxid order) by checking it against the tree plus the
//! changes not yet applied; the node then commits and applies transactions in zxid order.

pub mod prep;
pub mod read;
