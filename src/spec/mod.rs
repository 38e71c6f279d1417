//! Text notations: the one-line model spec and the optimizer spec.

pub mod call;
