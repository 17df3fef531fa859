//! Integration tests of the learner on a tiny CNN and in-memory data.

mod common;
mod fit;
mod freeze;
mod schedule;
