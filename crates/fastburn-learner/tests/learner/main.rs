//! Integration tests of the learner on a tiny CNN and in-memory data.

mod common;
mod callbacks;
mod fit;
mod freeze;
mod lr_find;
mod precision;
mod save;
mod schedule;
