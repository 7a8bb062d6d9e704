//! A local Foundry USA API with the quirks of `shared/api/foundry.md` section 6.
