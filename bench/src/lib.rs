//! Placeholder until the bench issue builds the load generator.
