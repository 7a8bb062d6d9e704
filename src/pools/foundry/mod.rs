//! Foundry USA (`shared/api/foundry.md`): wire types and parsing (`wire`), and the local
//! simulator (`sim`).

pub mod sim;
pub mod wire;
