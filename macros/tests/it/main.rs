//! Behaviour of the derives: what derived commands parse and answer, and how
//! a derived bot routes events (against the in-process fake homeserver).

mod command_options;
mod command_parse;
