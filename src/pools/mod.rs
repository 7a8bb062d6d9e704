//! The pools poolhist speaks to, one folder each: its wire types and parsing, its endpoints,
//! and its simulator. `ingest` and `store` never name a pool; they go through the seam here.

pub mod foundry;
