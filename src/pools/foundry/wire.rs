//! Foundry USA wire format: parsing of its answers into the pool-neutral model.
